#!/bin/bash
# Fault: a server that accepts the connection and then never answers, or
# answers one byte at a time (a slow peer).  Wanted: the request times out
# (timeout = 1s) and is retried with backoff; the other sink, a file, gets
# every sample on time regardless; no busy loop; a bounded log; and once a
# real VictoriaMetrics takes the slow server's port, everything spooled
# meanwhile arrives, each sample once.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
SLOW=
cleanup() {
	[ -n "$SLOW" ] && kill "$SLOW" 2>/dev/null
	servers_stop
	fault_cleanup
}
trap cleanup EXIT
command -v victoria-metrics >/dev/null || { echo "victoria-metrics not installed"; exit 77; }
mkdir -p "$T/vm"
free_port >"$T/vm/http.port"
SPORT=$(cat "$T/vm/http.port")
VM_URL=http://127.0.0.1:$SPORT
# The slow peer: reads the request, then trickles a byte every 2 s.
python3 - "$SPORT" >"$T/slow.log" 2>&1 <<'PY' &
import socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
def serve(c):
    try:
        c.recv(65536)
        for ch in b"HTTP/1.1 204 No Content\r\n":
            time.sleep(2)
            c.send(bytes([ch]))
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
SLOW=$!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SPORT), 1)" ||
	fail "the slow server did not start"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
python3 tools/gentrace.py --profile constant:36000 --seconds 20 --seed 4 -o "$T/trace.txt" 2>/dev/null
N=$("$B/pulselog" "$T/trace.txt" --impulses-per-kwh 1000 --quiet | sed -E 's/.*flashes=([0-9]+).*/\1/')
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
[pulse.house]
replay           = $T/trace.txt
speed            = 1
impulses_per_kwh = 1000
sample_interval  = 100h
timeout          = 100h
[sink.vm]
type           = influxdb
url            = $VM_URL
org            = home
bucket         = b
token          = t
flush_interval = 200ms
timeout        = 1s
retry_base     = 200ms
retry_max      = 1s
[sink.file]
type           = file
path           = $T/out.lp
flush_interval = 200ms
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
L0=$(log_lines "$T/powerd.log")
failing() { curl -fsS "$URL/api/status" | grep -q '"state":"failing'; }
wait_for 15 failing || fail "the slow server's sink is not shown failing"
grep -q "Timeout was reached\|timed out" "$T/powerd.log" || fail "no timeout logged"
CPU=$(cpu_pct "$PID" 5)
[ "$CPU" -lt 5 ] || fail "$CPU % CPU against a slow server"
# The file sink is not held up: it follows the replay within a second.
F=$(m 'powerd_pulse_flashes_total{meter="house"}')
sleep 1
[ "$(wc -l <"$T/out.lp")" -ge "$F" ] || fail "the file sink lags: $(wc -l <"$T/out.lp") lines, $F flashes a second ago"
done_replay() { curl -fsS "$URL/api/status" | grep -q '"replay finished"'; }
wait_for 30 done_replay || fail "replay did not finish"
L1=$(log_lines "$T/powerd.log")
[ $((L1 - L0)) -le 6 ] || { tail -n 10 "$T/powerd.log"; fail "$((L1 - L0)) log lines"; }
echo "slow server: failing with timeouts, $CPU % CPU, file sink on time, $((L1 - L0)) log lines"
kill "$SLOW"
wait "$SLOW" 2>/dev/null
SLOW=
vm_start "$T/vm" || fail "VictoriaMetrics did not start"
drained() { [ "$(m 'powerd_sink_spool_unsent_bytes{sink="vm"}')" = 0 ]; }
wait_for 60 drained || fail "not drained after the server returned"
wait_vm_points '{__name__="pulse_energy_wh"}' "$N" 60 || fail "VictoriaMetrics has $(vm_points '{__name__="pulse_energy_wh"}') of $N"
GOT=$(vm_points '{__name__="pulse_energy_wh"}')
[ "$GOT" = "$N" ] || fail "VictoriaMetrics has $GOT, $N flashes"
[ "$(wc -l <"$T/out.lp")" = "$N" ] || fail "the file has $(wc -l <"$T/out.lp") lines, $N flashes"
echo "server back: all $N delivered to VictoriaMetrics and the file"
pd_stop
sanitizer_clean "$T/powerd.log"
