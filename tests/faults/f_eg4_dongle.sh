#!/bin/bash
# Fault: EG4 dongles that are dead (nothing listens: every connect refused)
# or silent (accepts, reads every request, never answers), next to a good
# one (tests/eg4_dongle.py steady).  Wanted: the dead one's failures counted
# (connect) and retried with the backoff (reconnect_min 200ms doubling to
# 1s: no storm); the silent one's requests counted as timeout and its
# connection closed by the watchdog (2 s) and made again; the good one's
# samples all in the file sink (produced = delivered, exactly); no busy
# loop; a bounded log; and once real dongles take both ports, both produce
# samples without a restart.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=${PD:-$B/asan/powerd}
[ -x "$PD" ] || PD=$B/powerd
T=$(mktemp -d /tmp/powerd-eg4f-XXXXXX)
PID=
FAKES=()
cleanup() {
	local p
	for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	fault_cleanup
}
trap cleanup EXIT
# fake SCENARIO PORT NAME: a fake dongle; its pid in FAKES and in $T/NAME.pid
fake() {
	python3 tests/eg4_dongle.py "$1" "$2" "$T/$3.log" "$T/$3.done" 2>>"$T/fake.err" &
	FAKES+=($!)
	echo $! >"$T/$3.pid"
	wait_for 10 test -f "$T/$3.done.ready" || fail "fake $3 did not start: $(cat "$T/fake.err")"
}
read -r DEAD SILENT GOOD < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
fake silent "$SILENT" silent
fake steady "$GOOD" good
port=$(free_port)
URL=http://127.0.0.1:$port
{
	cat <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[sink.lp]
type = file
path = $T/out.lp
flush_interval = 100ms
EOC
	for n in dead silent good; do
		p=$DEAD
		[ $n = silent ] && p=$SILENT
		[ $n = good ] && p=$GOOD
		cat <<EOC
[eg4.$n]
host = 127.0.0.1
port = $p
datalog = 2222222222
poll = 1s
timeout = 400ms
watchdog = 2s
reconnect_min = 200ms
reconnect_max = 1s
EOC
	done
} >"$T/powerd.conf"
t0=$(date +%s.%N)
pd_start "$T/powerd.conf" "$T/powerd.log"
err() { m "powerd_source_errors_total{source=\"$1\",kind=\"eg4\",reason=\"$2\"}"; }
sleep 2
l0=$(log_lines "$T/powerd.log")
cpu=$(cpu_pct "$PID" 6)
l1=$(log_lines "$T/powerd.log")
[ "$cpu" -lt 5 ] || fail "powerd used $cpu % of a core with a dead and a silent dongle"
# The log over those 6 s: the dead one's first failure line (then one a
# minute), the silent one's watchdog and connected lines (one each per 2 s
# at most), its timeout line (one a minute).
[ $((l1 - l0)) -le 10 ] || fail "$((l1 - l0)) log lines in 6 s: $(tail -n 20 "$T/powerd.log")"
faulty() {
	[ "$(err dead connect)" -ge 3 ] && [ "$(err silent watchdog)" -ge 3 ] &&
		[ "$(err silent timeout)" -ge 3 ]
}
wait_for 30 faulty || fail "dead: $(err dead connect) connects; silent: $(err silent watchdog) watchdogs, $(err silent timeout) timeouts"
c=$(err dead connect)
wd=$(err silent watchdog)
to=$(err silent timeout)
acc=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("what") == "accept"))' "$T/silent.log")
el=$(python3 -c "import time; print(time.time() - $t0)")
# No storm: the dead one waits at least half its backoff (0.1, 0.2, 0.4,
# then 0.5 s) between attempts; the silent one's connections last the
# watchdog's 2 s each.
python3 -c "import sys; sys.exit(0 if $c <= 4 + $el / 0.5 and $acc <= 1 + $el / 2 else 1)" ||
	fail "dead: $c connects, silent: $acc connections in $el s"
[ "$acc" -ge "$wd" ] || fail "silent: $wd watchdogs but $acc connections"
[ "$(m 'powerd_eg4_connected{source="good"}')" = 1 ] || fail "the good dongle is not connected"
[ "$(err good timeout)" = 0 ] && [ "$(err good watchdog)" = 0 ] ||
	fail "the good dongle: $(grep 'eg4 good' "$T/powerd.log" | tail -3)"

# Real dongles take both ports: both produce, with no restart.
kill "$(cat "$T/silent.pid")"
fake steady "$SILENT" silent2
fake steady "$DEAD" dead2
producing() {
	[ "$(m 'powerd_source_samples_total{source="dead",kind="eg4"}')" -ge 4 ] &&
		[ "$(m 'powerd_source_samples_total{source="silent",kind="eg4"}')" -ge 4 ]
}
wait_for 30 producing || fail "no recovery: $(grep eg4 "$T/powerd.log" | tail -6)"

# Exact accounting: the good one's fake stops, powerd's count stands still,
# and the file holds exactly that many of its samples.
kill "$(cat "$T/good.pid")"
sleep 1.5
n=$(m 'powerd_source_samples_total{source="good",kind="eg4"}')
in_file() { [ "$(grep -c '^eg4,[^ ]*source=good[, ]' "$T/out.lp")" = "$n" ]; }
wait_for 10 in_file || fail "good: $(grep -c '^eg4,[^ ]*source=good[, ]' "$T/out.lp") samples in the file, powerd counted $n"
[ "$(err good dropped)" = 0 ] || fail "good: samples dropped"
pd_stop
sanitizer_clean "$T/powerd.log"
echo "ok: dead $c connects, silent $wd watchdogs and $to timeouts in $el s, $cpu % CPU and $((l1 - l0)) log lines in 6 s; good $n samples, each in the file"
