#!/bin/bash
# Fault: Modbus devices that die or stall.  Beside a healthy device: one that
# accepts and never answers, one that answers 900 ms late (timeout 500 ms:
# its late replies must never be taken for the next request's), one whose
# port is closed for 8 s (connection refused) and then opens again.
# Wanted: the healthy device's values keep arriving, exact; the others are
# counted (timeout, connect), shown, and retried with backoff; no busy loop
# (< 5 % of a core); a bounded log (one line per device going bad, one on
# recovery); the closed one recovers by itself.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
[ -x "$PD" ] || PD=$B/powerd
SRV=$B/tests/modbus_server
[ -x "$SRV" ] || { echo "$SRV not built"; exit 77; }
T=$(mktemp -d)
PID=
MB=
trap '[ -n "$MB" ] && kill "$MB" 2>/dev/null; fault_cleanup' EXIT
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
BASE=$(free_ports 4)
[ -n "$BASE" ] || fail "no 4 free ports in a row"
printf 'holding 1 1234\n' >"$T/regs"
"$SRV" --port "$BASE" --count 4 --regs "$T/regs" --behave 1=silent --behave 2=slow:900 \
	--behave 3=stoppable --ready "$T/ready" 2>"$T/srv.err" &
MB=$!
wait_for 10 test -e "$T/ready" || fail "modbus_server did not start"
printf 'idx dev holding 0 u16\nvolts dev holding 1 u16 scale=0.1\n' >"$T/m.map"
{
	printf '[daemon]\nstate_dir = %s\nlisten = 127.0.0.1:%s\nsocket = %s\n' "$T/state" "$PORT" "$T/pd.sock"
	printf '[sink.out]\ntype = file\npath = %s\n' "$T/out.lp"
	for i in 0 1 2 3; do
		printf '[modbus.d%s]\nurl = tcp://127.0.0.1:%s\ninterval = 250ms\ntimeout = 500ms\nretries = 1\nmap = %s\n' \
			"$i" $((BASE + i)) "$T/m.map"
	done
} >"$T/pd.conf"
status() { curl -fsS "$URL/api/status"; }
src() { json_get "$(status)" "[s for s in d['sources'] if s['name']=='$1'][0]$2"; }
n_of() { cat "$T/out.lp" 2>/dev/null | grep -c ",source=$1 "; }

pd_start "$T/pd.conf" "$T/pd.log"
kill -USR1 "$MB" # d3's port closes
d0_going() { [ "$(n_of d0)" -ge 4 ]; }
wait_for 20 d0_going || fail "d0 produces nothing"
lines0=$(log_lines "$T/pd.log")
a=$(n_of d0)
cpu=$(cpu_pct "$PID" 5)
b=$(n_of d0)
[ "$cpu" -lt 5 ] || fail "powerd uses $cpu % of a core while 3 of 4 devices fail"
[ $((b - a)) -ge 7 ] || fail "d0 made $((b - a)) samples in 5 s at 250 ms"
sleep 1
kill -USR1 "$MB" # d3's port opens again
d3_back() { [ "$(src d3 "['state']")" = ok ] && [ "$(n_of d3)" -ge 1 ]; }
wait_for 40 d3_back || fail "d3 did not recover: $(src d3 "['detail']")"
S=$(status)
sj() { json_get "$S" "[s for s in d['sources'] if s['name']=='$1'][0]$2"; }
lines=$(($(log_lines "$T/pd.log") - lines0))
[ "$lines" -le 6 ] || fail "$lines log lines during the fault: $(tail -n "$lines" "$T/pd.log")"
[ "$(sj d1 "['errors']['timeout']")" -ge 2 ] || fail "d1: timeouts $(sj d1 "['errors']")"
[ "$(sj d2 "['errors']['timeout']")" -ge 2 ] || fail "d2: timeouts $(sj d2 "['errors']")"
# (a late reply may reach a new connection when the server reuses the
# socket's number: counted as unexpected, never decoded)
[ "$(sj d3 "['errors']['connect']")" -ge 1 ] || fail "d3: connect errors $(sj d3 "['errors']")"
[ "$(n_of d1)" = 0 ] && [ "$(n_of d2)" = 0 ] || fail "samples from d1 ($(n_of d1)) or d2 ($(n_of d2))"
# every d0 value is d0's, and d2 never produced from a late reply
bad=$(grep ',source=d0 ' "$T/out.lp" | grep -vc ' idx=0i,volts=123.4 ')
[ "$bad" = 0 ] || fail "$bad of d0's samples are not d0's registers"
bad=$(grep ',source=d3 ' "$T/out.lp" | grep -vc ' idx=3i,volts=123.4 ')
[ "$bad" = 0 ] || fail "$bad of d3's samples are not d3's registers"
e0=$(json_get "$S" "sum([s for s in d['sources'] if s['name']=='d0'][0]['errors'].values())")
[ "$e0" = 0 ] || fail "d0 counted errors: $(sj d0 "['errors']")"
pd_stop
sanitizer_clean "$T/pd.log"
echo "ok: a silent, a late and a closed Modbus device: d0 unaffected ($((b - a)) samples in 5 s, exact), cpu $cpu %, $lines log lines, d1 $(sj d1 "['errors']['timeout']") / d2 $(sj d2 "['errors']['timeout']") timeouts, d3 $(sj d3 "['errors']['connect']") connect errors and back"
