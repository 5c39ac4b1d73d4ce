#!/bin/bash
# [modbus.NAME] over TCP, end to end: 32 devices of tests/modbus_server
# (libmodbus) polled at once, every 300 ms.  Device 29 is stopped mid-run
# (SIGUSR1) and brought back, 30 answers every request with exception 2,
# 31 never answers.  Asserted:
#   - every other device keeps producing while they fail: each has at least
#     a third of the polls the window allows (no timing beyond that);
#   - every value exact, per device (register 0 = its index; 27 connects
#     for each poll only, close_after_poll; 26 sends a poll's reads at
#     once, pipeline): scaling and
#     offset, u16 i16 u32 i32 f32 ascii bit u8 i8, both word orders, a
#     byte order, and a map with byteswap = yes (tests/fixtures/modbus);
#   - the counters by reason: the exceptions counted by code and nothing
#     else for 30, timeouts for 31 (each its request), 29 shown as an error
#     while stopped and ok again after, with its samples resuming;
#   - /metrics passes promtool (when installed) with the Modbus families;
#   - writes: refused without allow_write, for a value the map does not
#     mark writable, out of range, not a whole step, unknown; accepted ones
#     reach the device as the server's --log shows (scaled; a bit written
#     back with the register's other bits kept; an i32 with function 16),
#     each logged with the caller's uid and counted.
#   tests/t_modbus_tcp.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=${PD:-$B/asan/powerd}
[ -x "$PD" ] || PD=$B/powerd
SRV=$B/tests/modbus_server
PC=$B/powerctl
FIX=tests/fixtures/modbus
[ -x "$SRV" ] || { echo "skip: $SRV not built (make test-build; libmodbus-dev)"; exit 77; }
N=32

T=$(mktemp -d /tmp/powerd-mbtcp-XXXXXX)
PID=
MB=
trap '[ -n "$MB" ] && kill "$MB" 2>/dev/null; fault_cleanup; rm -rf "$T"' EXIT
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
BASE=$(free_ports "$N")
[ -n "$BASE" ] || fail "no $N free ports in a row"

"$SRV" --port "$BASE" --count $N --regs "$FIX/types.regs" --behave 29=stoppable \
	--behave 30=exception:2 --behave 31=silent --ready "$T/srv.ready" --log "$T/srv.log" \
	2>"$T/srv.err" &
MB=$!
wait_for 10 test -e "$T/srv.ready" || fail "modbus_server did not start: $(cat "$T/srv.err")"

{
	cat <<EOF
[daemon]
state_dir = $T/state
listen = 127.0.0.1:$PORT
socket = $T/pd.sock
[sink.out]
type = file
path = $T/out.lp
EOF
	for i in $(seq 0 $((N - 1))); do
		map=$PWD/$FIX/types.map
		[ "$i" = 28 ] && map=$PWD/$FIX/swapped.map
		printf '[modbus.d%s]\nurl = tcp://127.0.0.1:%s\ninterval = 300ms\ntimeout = 400ms\nretries = 0\nmap = %s\n' \
			"$i" $((BASE + i)) "$map"
		[ "$i" = 0 ] && echo "allow_write = yes"
		[ "$i" = 27 ] && echo "close_after_poll = yes"
		[ "$i" = 26 ] && echo "pipeline = yes"
	done
} >"$T/pd.conf"

status() { curl -fsS "$URL/api/status"; }
src() { json_get "$(status)" "[s for s in d['sources'] if s['name']=='$1'][0]$2"; }
counts() { awk '{ split($1, t, ",source="); n[t[2]]++ } END { for (s in n) print s, n[s] }' "$T/out.lp" 2>/dev/null | sort; }
count_of() { counts | awk -v s="$1" '$1 == s { print $2 }'; }
all_producing() {
	local i
	for i in $(seq 0 28); do [ -n "$(count_of d$i)" ] || return 1; done
}

pd_start "$T/pd.conf" "$T/pd.log"
wait_for 30 all_producing || fail "not every device produces: $(counts | tr '\n' ' ')"

# ---- the window: 29 stopped, then back; the others unaffected
counts >"$T/c0"
t0=$(date +%s.%N)
kill -USR1 "$MB"
state29() { [ "$(src d29 "['state']")" = "$1" ]; }
wait_for 20 state29 error || fail "d29 stopped: its state is $(src d29 "['state']"): $(src d29 "['detail']")"
DETAIL29=$(src d29 "['detail']")
sleep 3
kill -USR1 "$MB"
wait_for 30 state29 ok || fail "d29 back: its state is $(src d29 "['state']"): $(src d29 "['detail']")"
counts >"$T/c1"
t1=$(date +%s.%N)
n29=$(count_of d29)
more29() { [ "$(count_of d29)" -gt "$n29" ]; }
wait_for 20 more29 || fail "d29 back: no new samples"
want=$(python3 -c "print(int(($t1 - $t0) / 0.3 / 3))")
short=$(join "$T/c0" "$T/c1" | awk -v w="$want" '$1 != "d29" && $3 - $2 < w { print $1 ": " $3 - $2 }')
[ -z "$short" ] || fail "devices behind while 29-31 failed (want >= $want polls each): $short"
echo "ok: 28 devices kept up while 29 was stopped ($DETAIL29) and back, 30 refused, 31 silent: >= $want polls each in $(python3 -c "print(round($t1 - $t0, 1))") s"

# ---- the values, exact
python3 - "$T/out.lp" <<'EOF' || fail "the values are not the registers'"
import math, sys
last = {}
for line in open(sys.argv[1]):
    head, fields, ts = line.rsplit(" ", 2)
    meas, tag = head.split(",", 1)
    f = {}
    for kv in fields.split(","):
        k, v = kv.split("=", 1)
        f[k] = v
    last[tag.split("=", 1)[1]] = f
def want(i):
    return {"idx": f"{i}i", "volts": "123.4", "temp": "-10i", "count": "65538i",
            "count_lw": "65538i", "delta": "-2i", "name": '"powerd"', "alarm": "1i",
            "mode": "5i", "hi": "18i", "lo": "-16i", "swapped": "4660i", "setpoint": "10",
            "enable": "0i", "fixed": "7i", "limit": "5i", "in_idx": f"{i}i", "freq": "50"}
bad = 0
for i in list(range(28)) + [29]:
    f = last.get(f"d{i}")
    if f is None:
        print(f"d{i}: no sample", file=sys.stderr); bad += 1; continue
    for k, v in want(i).items():
        if f.get(k) != v:
            print(f"d{i}.{k} = {f.get(k)}, want {v}", file=sys.stderr); bad += 1
    for k in ("pi", "pi_dcba"):
        if abs(float(f.get(k, "nan")) - 3.1415927410125732) > 1e-9:
            print(f"d{i}.{k} = {f.get(k)}", file=sys.stderr); bad += 1
# byteswap = yes: every register's bytes swapped first
f = last.get("d28", {})
w = {"idx": f"{28 << 8}i", "volts": "4660i", "count": f"{0x01000200}i"}
for k, v in w.items():
    if f.get(k) != v:
        print(f"d28.{k} = {f.get(k)}, want {v}", file=sys.stderr); bad += 1
for s in ("d30", "d31"):
    if s in last:
        print(f"{s} produced a sample", file=sys.stderr); bad += 1
sys.exit(1 if bad else 0)
EOF
echo "ok: every value exact on 29 devices (u16 i16 u32 i32 f32 ascii bit u8 i8, abcd cdab dcba ba, scale, offset, byteswap)"

# ---- counters by reason
S=$(status)
sj() { json_get "$S" "[s for s in d['sources'] if s['name']=='$1'][0]$2"; }
ex=$(sj d30 "['errors']['exception']")
[ "$ex" -ge 1 ] && [ "$ex" = "$(sj d30 "['modbus']['exceptions']['2']")" ] ||
	fail "d30: exceptions $ex, by code $(sj d30 "['modbus']['exceptions']")"
[ "$(sj d30 "['modbus']['replies']")" = 0 ] || fail "d30: replies counted"
other=$(json_get "$S" "sum(v for k, v in [s for s in d['sources'] if s['name']=='d30'][0]['errors'].items() if k not in ('exception', 'overrun'))")
[ "$other" = 0 ] || fail "d30: other errors counted: $(sj d30 "['errors']")"
case "$(sj d30 "['detail']")" in *"exception 2 (illegal data address)"*) ;; *) fail "d30 says: $(sj d30 "['detail']")" ;; esac
to=$(sj d31 "['errors']['timeout']")
rq=$(sj d31 "['modbus']['requests']")
[ "$to" -ge 1 ] && [ $((rq - to)) -ge 0 ] && [ $((rq - to)) -le 1 ] || fail "d31: $to timeouts for $rq requests"
[ "$(sj d31 "['detail']")" = "no answer from unit 1 on 127.0.0.1:$((BASE + 31)) (timeout 0.4 s)" ] ||
	case "$(sj d31 "['state']")" in connecting) ;; *) fail "d31 says: $(sj d31 "['detail']")" ;; esac
for i in 0 5 26 27; do
	e=$(json_get "$S" "sum([s for s in d['sources'] if s['name']=='d$i'][0]['errors'].values())")
	[ "$e" = 0 ] || fail "d$i: errors $(sj d$i "['errors']")"
	[ "$(sj d$i "['modbus']['replies']")" = "$(sj d$i "['modbus']['requests']")" ] ||
		[ $(($(sj d$i "['modbus']['requests']") - $(sj d$i "['modbus']['replies']"))) = 1 ] ||
		fail "d$i: requests $(sj d$i "['modbus']['requests']"), replies $(sj d$i "['modbus']['replies']")"
done
echo "ok: counted by reason: d30 $ex exceptions (code 2), d31 $to timeouts of $rq requests, healthy devices none"

curl -fsS "$URL/metrics" >"$T/metrics"
grep -q "^powerd_modbus_polls_total{source=\"d0\"} " "$T/metrics" || fail "/metrics: no powerd_modbus_polls_total"
grep -q "^powerd_modbus_exceptions_total{source=\"d30\",code=\"2\"} $ex\$" "$T/metrics" ||
	grep -q "^powerd_modbus_exceptions_total{source=\"d30\",code=\"2\"} " "$T/metrics" ||
	fail "/metrics: no exceptions for d30: $(grep exceptions "$T/metrics")"
grep -q '^powerd_source_errors_total{source="d31",kind="modbus",reason="timeout"} ' "$T/metrics" ||
	fail "/metrics: no timeouts for d31: $(grep 'd31' "$T/metrics" | head -5)"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics" || fail "promtool check metrics"
	echo "ok: /metrics passes promtool"
fi

# ---- writes
w() { "$PC" -s "$T/pd.sock" modbus write "$@" >"$T/w.out" 2>&1; }
refused() {
	local want=$1
	shift
	if w "$@"; then fail "write $* was accepted: $(cat "$T/w.out")"; fi
	grep -q "$want" "$T/w.out" || fail "write $*: $(cat "$T/w.out"), want '$want'"
}
refused "writing is not allowed (allow_write = no" d1 setpoint 20
refused "fixed is not writable" d0 fixed 3
refused "setpoint = 70 is out of range" d0 setpoint 70
refused "not a whole number of its steps" d0 setpoint 23.45
refused "no such value" d0 nosuch 1
refused "is not a number" d0 setpoint 2x
refused "no \[modbus.nosuch\]" nosuch setpoint 20
w d0 setpoint 23.5 || fail "write setpoint 23.5: $(cat "$T/w.out")"
grep -q "wrote setpoint = 23.5 (holding 30: 0x00EB)" "$T/w.out" || fail "write setpoint: $(cat "$T/w.out")"
w d0 enable 1 || fail "write enable 1: $(cat "$T/w.out")"
w d0 limit -3 || fail "write limit -3: $(cat "$T/w.out")"
grep -q "holding 33-34: 0xFFFF 0xFFFD" "$T/w.out" || fail "write limit: $(cat "$T/w.out")"
want_log="write 0 30 235
write 0 31 21
write 0 33 65535
write 0 34 65533"
[ "$(cat "$T/srv.log")" = "$want_log" ] || fail "the server's log: $(cat "$T/srv.log"), want: $want_log"
written3() { [ "$(src d0 "['modbus']['written']")" = 3 ]; }
wait_for 5 written3 || fail "written: $(src d0 "['modbus']['written']")"
[ "$(src d0 "['errors']['write_refused']")" = 5 ] || fail "d0 write_refused: $(src d0 "['errors']['write_refused']")"
[ "$(src d1 "['errors']['write_refused']")" = 1 ] || fail "d1 write_refused: $(src d1 "['errors']['write_refused']")"
grep -q "modbus d0: uid $(id -u) writes setpoint = 23.5" "$T/pd.log" || fail "the write is not logged with the uid"
grep -q "modbus d1: uid $(id -u) asked to write: refused" "$T/pd.log" || fail "the refusal is not logged with the uid"
# the new value is read back by the next polls
setpoint_read() { tail -n 200 "$T/out.lp" | grep ',source=d0 ' | tail -1 | grep -q 'setpoint=23.5,'; }
wait_for 10 setpoint_read || fail "setpoint not read back as 23.5"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'setpoint 20' "$URL/api/modbus/d0/write")
[ "$code" = 405 ] || fail "a write over TCP got HTTP $code, want 405"
echo "ok: writes: 7 refusals with their reasons, 3 written as the server logs them (scaled, a bit with its register's others kept, an i32 by function 16), logged with uid $(id -u)"

pd_stop
kill "$MB"
wait "$MB" 2>/dev/null
MB=
sanitizer_clean "$T/pd.log"

# ---- pipeline = yes: a poll's reads in one batch, the replies taken by
# transaction id whatever their order (tests/mbap_reverse.py answers last
# first; register values are their addresses)
RP=$(free_port)
python3 tests/mbap_reverse.py "$RP" "$T/rev.log" 2>"$T/rev.err" &
MB=$!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $RP), 1)" || fail "mbap_reverse.py did not start"
printf 'a m holding 10 u16\nb m input 20 u16\nc m holding 300 u16\n' >"$T/rev.map"
sed -n '1,/^path = /p' "$T/pd.conf" | sed "s|out.lp|rev.lp|" >"$T/rev.conf"
printf '[modbus.rev]\nurl = tcp://127.0.0.1:%s\ninterval = 300ms\nmap = %s\npipeline = yes\n' "$RP" "$T/rev.map" >>"$T/rev.conf"
pd_start "$T/rev.conf" "$T/rev.pd.log"
rev_samples() { [ "$(cat "$T/rev.lp" 2>/dev/null | grep -c 'source=rev ')" -ge 3 ]; }
wait_for 20 rev_samples || fail "pipeline: no samples: $(src rev "['detail']")"
pd_stop
kill "$MB"
wait "$MB" 2>/dev/null
MB=
sanitizer_clean "$T/rev.pd.log"
[ "$(grep -vc '^batch 3$' "$T/rev.log")" = 0 ] || fail "pipeline: the batches were $(sort "$T/rev.log" | uniq -c)"
bad=$(grep 'source=rev ' "$T/rev.lp" | grep -vc ' a=10i,b=20i,c=300i ')
[ "$bad" = 0 ] || fail "pipeline: $bad samples mixed up: $(head -3 "$T/rev.lp")"
echo "ok: pipeline = yes: 3 reads per batch, replies taken by transaction id in reverse order, every value in its place"
echo "ok: modbus tcp"
