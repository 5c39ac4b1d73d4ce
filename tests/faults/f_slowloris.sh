#!/bin/bash
# Slowloris: 33 clients from 127.0.0.2 send a header byte every 2 s (under
# the idle timeout, which every byte restarts) and reconnect when closed; 4
# do the same on the Unix socket, and one from 127.0.0.3 dribbles after a
# first request on a kept-alive connection.  While that lasts (18 s):
# /metrics from 127.0.0.1 and powerctl on the socket answer every second,
# every connection the clients saw cut after its deadline is counted in
# powerd_http_connections_cut_total (and nothing else is), the log stays
# bounded and powerd under 5 % of a core; afterwards everything answers,
# 127.0.0.2 included, and there is no sanitizer report.
#   tests/faults/f_slowloris.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd CTL=$B/asan/powerctl
{ [ -x "$PD" ] && [ -x "$CTL" ]; } || fail "$PD or $CTL not built"
T=$(mktemp -d)
PID='' ATK=''
cleanup() {
	[ -n "$ATK" ] && kill "$ATK" 2>/dev/null && wait "$ATK" 2>/dev/null
	fault_cleanup
}
trap cleanup EXIT

python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
	{ echo "cannot bind to 127.0.0.2 on this machine"; exit 77; }
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
SOCK=$T/run/powerd.sock
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$PORT
socket    = $SOCK
EOC

# The clients.  Every 2 s (on a fixed schedule) each one first notes whether
# the server closed it: at 4 s or more it was cut after its deadline (5 s
# after connecting; 15 s after the response for the kept-alive one), sooner
# it was refused at once (8 per address).  Then it sends its next byte, or
# reconnects.  Connections start on even seconds and deadlines fall on odd
# ones, so stopping on a tick never races a cut.
cat >"$T/slowloris.py" <<'EOP'
import json, socket, sys, time

port, path, duration, out = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
TICK = 2.0
DRIP = b"GET /metrics HTTP/1.1\r\nHost: powerd\r\nX-Slow: " + b"x" * 4000


def connect(kind):
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
    else:
        s = socket.socket()
        s.bind(("127.0.0.3" if kind == "keepalive" else "127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
    return s


def closed(s):
    try:
        return s.recv(65536, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class Client:
    def __init__(self, kind, now):
        self.kind, self.sent, self.t0 = kind, 0, now
        self.s = connect(kind)
        if kind == "keepalive":
            # One whole request, answered; the clock restarts then.
            self.s.settimeout(3)
            self.s.sendall(b"GET /metrics HTTP/1.1\r\nHost: powerd\r\n\r\n")
            resp = b""
            while b"\r\n\r\n" not in resp or len(resp.split(b"\r\n\r\n", 1)[1]) < int(
                    resp.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]):
                resp += self.s.recv(65536)
            res["keepalive"]["answered"] = resp.startswith(b"HTTP/1.1 200 ")
            res["keepalive"]["kept"] = b"connection: close" not in resp.lower()
            self.s.settimeout(None)
            self.t0 = time.monotonic()


res = {k: {"cut": 0, "refused": 0, "longest": 0.0} for k in ("tcp", "unix", "keepalive")}
res["keepalive"]["cut_after"] = None
start = time.monotonic()
clients = [Client("keepalive", start)] + [Client("tcp", start) for _ in range(33)]
clients += [Client("unix", start) for _ in range(4)]
tick = 0
while True:
    now = time.monotonic()
    for i, c in enumerate(clients):
        if c is None or not closed(c.s):
            continue
        age = now - c.t0
        r = res[c.kind]
        r["cut" if age >= 4 else "refused"] += 1
        r["longest"] = max(r["longest"], age)
        if c.kind == "keepalive":
            r["cut_after"] = age
        c.s.close()
        over = now - start >= duration
        clients[i] = None if c.kind == "keepalive" or over else Client(c.kind, now)
    if now - start >= duration:
        break
    for c in clients:
        if c is not None and c.sent < len(DRIP):
            try:
                c.s.send(DRIP[c.sent:c.sent + 1])
                c.sent += 1
            except OSError:
                pass  # closed: counted on the next tick
    tick += 1
    time.sleep(max(0.0, start + tick * TICK - time.monotonic()))
for c in clients:
    if c is not None:
        c.s.close()
json.dump(res, open(out, "w"))
EOP

pd_start "$T/powerd.conf" "$T/powerd.log"
L0=$(log_lines "$T/powerd.log")
python3 "$T/slowloris.py" "$PORT" "$SOCK" 18 "$T/result.json" 2>"$T/slowloris.err" &
ATK=$!
C0=$(cpu_ticks "$PID")
S0=$(date +%s.%N)
slowest=0 probes=0
# Probe both listeners every second while the clients run.
while kill -0 "$ATK" 2>/dev/null; do
	t=$(curl -fsS --max-time 5 -o /dev/null -w '%{time_total}' "$URL/metrics") ||
		fail "/metrics did not answer under attack"
	slowest=$(awk -v a="$slowest" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
	"$CTL" -s "$SOCK" status >/dev/null || fail "powerctl did not answer under attack"
	probes=$((probes + 1))
	sleep 1
done
C1=$(cpu_ticks "$PID")
S1=$(date +%s.%N)
wait "$ATK" || { cat "$T/slowloris.err"; fail "the slow clients failed"; }
ATK=
L1=$(log_lines "$T/powerd.log")
cpu=$(awk -v a="$C0" -v b="$C1" -v s0="$S0" -v s1="$S1" -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "%.1f", (b - a) * 100 / hz / (s1 - s0) }')
echo "under attack: $probes probes, slowest /metrics ${slowest}s, powerd ${cpu}% of a core," \
	"$((L1 - L0)) log lines"
r() { json_get "$(cat "$T/result.json")" "$1"; }
echo "clients: $(cat "$T/result.json")"

[ "$probes" -ge 12 ] || fail "only $probes probes in 18 s"
awk -v t="$slowest" 'BEGIN { exit !(t < 5) }' || fail "/metrics took ${slowest}s under attack"
awk -v c="$cpu" 'BEGIN { exit !(c < 5) }' || fail "powerd used ${cpu}% of a core under attack"
[ $((L1 - L0)) -le 10 ] || { tail -n 20 "$T/powerd.log"; fail "$((L1 - L0)) log lines under attack"; }

# Exact accounting: every cut the clients saw, counted once, per listener.
cut_tcp=$(metric 'powerd_http_connections_cut_total{listener="tcp",reason="slow_request"}' "$URL/metrics")
cut_unix=$(metric 'powerd_http_connections_cut_total{listener="unix",reason="slow_request"}' "$URL/metrics")
want_tcp=$(($(r 'd["tcp"]["cut"]') + $(r 'd["keepalive"]["cut"]')))
want_unix=$(r 'd["unix"]["cut"]')
[ "$cut_tcp" = "$want_tcp" ] || fail "tcp: $cut_tcp cuts counted, the clients saw $want_tcp"
[ "$cut_unix" = "$want_unix" ] || fail "unix: $cut_unix cuts counted, the clients saw $want_unix"
# Three waves of 8 (cut at 5 s, back on the next tick) on TCP, of 4 on the
# socket; nobody held on longer than a deadline and a tick.
[ "$want_tcp" -ge 17 ] || fail "only $want_tcp TCP connections cut"
[ "$want_unix" -ge 8 ] || fail "only $want_unix socket connections cut"
[ "$(r 'd["tcp"]["refused"] > 0')" = True ] || fail "no connection refused by the per-address limit"
[ "$(r 'd["unix"]["refused"]')" = 0 ] || fail "socket connections refused"
[ "$(r 'd["tcp"]["longest"] < 7.5 and d["unix"]["longest"] < 7.5')" = True ] ||
	fail "a slow client held on for longer than its deadline and a tick"
[ "$(r 'd["keepalive"]["answered"] and d["keepalive"]["kept"]')" = True ] ||
	fail "the kept-alive client's first request was not answered with keep-alive"
[ "$(r 'd["keepalive"]["cut"] == 1 and 14.5 < d["keepalive"]["cut_after"] < 17.5')" = True ] ||
	fail "the kept-alive dribbler was not cut 15 s after its response"

# Recovery: the slots are free again, for 127.0.0.2 too; keep-alive works.
sleep 1
[ "$(metric 'powerd_http_connections{listener="unix"}' "$URL/metrics")" = 0 ] ||
	fail "socket connections left open"
curl -fsS --max-time 2 --interface 127.0.0.2 -o /dev/null "$URL/api/status" ||
	fail "127.0.0.2 not served after the attack"
curl -sv --max-time 5 -o /dev/null -o /dev/null "$URL/metrics" "$URL/api/status" 2>&1 |
	grep -q "Re-using existing connection" || fail "the connection was not reused"
"$CTL" -s "$SOCK" status >/dev/null || fail "powerctl did not answer after the attack"
pd_stop
sanitizer_clean "$T/powerd.log"
[ "$(log_lines "$T/powerd.log")" -le 20 ] || { cat "$T/powerd.log"; fail "too many log lines"; }
echo "log:"
cat "$T/powerd.log"
exit 0
