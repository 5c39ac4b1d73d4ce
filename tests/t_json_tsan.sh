#!/bin/bash
# The JSON-files source under ThreadSanitizer: its reader thread, the I/O
# thread's inotify reads and the uploader (after = move: each file to done/
# once its samples are spooled), through a backlog, files written
# while it runs, two SIGHUP reloads (the source stopped and started again
# with its checkpoint) and a stop.  Every record once in the file sink (a
# reload is a clean stop: nothing read twice), and no TSan report.
#   tests/t_json_tsan.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/tsan/powerd
[ -x "$PD" ] || { echo "no $PD"; exit 1; }
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT
export TZ=UTC TSAN_OPTIONS="halt_on_error=1 exitcode=66"
start=$(($(date +%s) - 7200))
python3 tools/genpp1.py "$T/msgs" --files 600 --start "$start" >/dev/null || fail genpp1
port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
persist_interval = 1s
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[json.pp1]
path  = $T/msgs
after = move
; the integrals are saved by the meter thread while the reader adds to them
valid     = der_memory.used > 0
derive    = der_memory.total = der_memory.used + der_memory.free
integrate = der_os.load -> load_wh
[sink.lp]
type = file
path = $T/out.lp
flush_interval = 100ms
EOC
lines() { grep -c . "$T/out.lp" 2>/dev/null || echo 0; }
pd_start "$T/powerd.conf" "$T/powerd.log"
have() { [ "$(lines)" -ge "$1" ]; }
wait_for 60 have 6600 || fail "backlog: $(lines) of 6600 records"
for k in 1 2; do
	python3 tools/genpp1.py "$T/msgs" --files 20 --start "$start" --first $((600 + (k - 1) * 40)) >/dev/null
	kill -HUP "$PID"
	python3 tools/genpp1.py "$T/msgs" --files 20 --start "$start" --first $((620 + (k - 1) * 40)) >/dev/null
	wait_for 60 have $((6600 + k * 440)) || fail "reload $k: $(lines) of $((6600 + k * 440)) records"
done
sleep 1
pd_stop TERM
[ "$(lines)" = 7480 ] || fail "$(lines) records, want 7480 (each once)"
[ "$(sort "$T/out.lp" | uniq -d | wc -l)" = 0 ] || fail "records written twice"
[ "$(grep -c '^der_os,.*load_wh=' "$T/out.lp")" = 680 ] || fail "der_os records without load_wh"
[ "$(grep -c '^der_memory,.*,total=' "$T/out.lp")" = 680 ] || fail "der_memory records without total"
grep -q '^powerd-integrate 1' "$T/state/integrate.pp1.state" || fail "no integrals saved"
# after = move: every file in done/, none left.
[ "$(ls "$T/msgs/done" | grep -c '^message_')" = 680 ] ||
	fail "$(ls "$T/msgs/done" | grep -c '^message_') of 680 files in done/"
[ "$(ls "$T/msgs" | grep -c '^message_')" = 0 ] || fail "files left after they were done"
if grep -q "ThreadSanitizer" "$T/powerd.log"; then
	grep -A30 "ThreadSanitizer" "$T/powerd.log" | head -60
	fail "TSan report"
fi
echo PASS
