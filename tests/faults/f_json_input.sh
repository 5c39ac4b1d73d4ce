#!/bin/bash
# Fault: hostile JSON files (issue 7).  A directory holding, among good
# Power Pod files, a file that is not JSON, one cut short, a record without
# time, one without fields, a field that is an array, a bad time, a
# measurement a sample refuses, a 100 MB file (sparse: refused by its size,
# never read), a directory and a FIFO matching the pattern.  Each bad file
# is moved to failed/ with its reason counted and one log line; every good
# file, before and after them, arrives exactly once; no crash, the source
# stays up.  A flat (PowMr) document becomes one sample per member at the
# file's mtime.  In a read-only directory the bad file is left in place,
# counted, and the good ones still arrive.  Then the directory disappears
# and comes back: the source shows the error and picks the new files up.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT
export TZ=UTC
D=$T/msgs
python3 tools/genpp1.py "$D" --files 20 --start $(($(date +%s) - 3600)) >/dev/null || fail genpp1
rec='{"measurement": "grid", "tags": {"a": "b"}, "time": "2026-01-01T00:00:00Z", "fields": {"v": 1.5}}'
put() { printf '%s' "$2" >"$D/$1"; touch -d '1 hour ago' "$D/$1"; }
put message_a_notjson.json 'this is not json'
put message_b_cut.json '{"telemetry": [{"measurement": "grid", "time": "2026-'
put message_c_notime.json '{"telemetry": [{"measurement": "grid", "fields": {"v": 1}}]}'
put message_d_nofields.json '{"telemetry": [{"measurement": "grid", "time": "2026-01-01T00:00:00Z", "fields": {}}]}'
put message_e_array.json '{"telemetry": [{"measurement": "grid", "time": "2026-01-01T00:00:00Z", "fields": {"v": [1, 2]}}]}'
put message_f_badtime.json '{"telemetry": [{"measurement": "grid", "time": "2026-13-45T99:00:00Z", "fields": {"v": 1}}]}'
put message_g_badname.json '{"telemetry": [{"measurement": "#comment", "time": "2026-01-01T00:00:00Z", "fields": {"v": 1}}]}'
truncate -s 100M "$D/message_h_huge.json"
mkdir "$D/message_i_dir.json"
mkfifo "$D/message_j_fifo.json"
# A read-only directory (a tmpfs remounted read-only): a bad file there
# cannot be moved; it is left in place, counted, and the good ones arrive.
R=$T/ro
fault_tmpfs "$R" 4m
python3 tools/genpp1.py "$R" --files 3 --start $(($(date +%s) - 7200)) >/dev/null || fail genpp1
printf 'nope' >"$R/message_bad.json"
touch -d '1 hour ago' "$R/message_bad.json"
mount -o remount,ro "$R" || fail "cannot remount $R read-only"
# format = flat: the PowMr dongle's object of objects, one sample per
# member, the time from the file's mtime; a nested object flattened.
F=$T/flat
mkdir -p "$F"
printf '%s' '{"ac": {"output_watts": 341, "output_voltage": 121.5}, "dc": {"pv_power": 0, "batt": {"v": 26.4}}, "inverter": {"valid_info": 1, "mode": "line"}}' >"$F/status.json"
touch -d '@1700000000.25' "$F/status.json"
port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[json.pp1]
path    = $D
pattern = message_*.json
[json.ro]
path    = $R
pattern = message_*.json
[json.powmr]
path    = $F
format  = flat
[sink.lp]
type = file
path = $T/out.lp
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
lines() { grep -c . "$T/out.lp" 2>/dev/null || echo 0; }
enough() { [ "$(lines)" -ge 256 ]; }
wait_for 30 enough || fail "good files: $(lines) of 256 records"
sleep 1
[ "$(lines)" = 256 ] || fail "$(lines) records, want 256 (each good file once)"
for want in 'ac output_watts=341i,output_voltage=121.5 1700000000250000000' \
	'dc pv_power=0i,batt_v=26.4 1700000000250000000' \
	'inverter valid_info=1i,mode="line" 1700000000250000000'; do
	grep -qxF "$want" "$T/out.lp" || fail "flat: no line '$want' in: $(grep 1700000000 "$T/out.lp")"
done
e() { m "powerd_source_errors_total{source=\"pp1\",kind=\"json\",reason=\"$1\"}"; }
for r in not_json:2 no_time:1 no_fields:1 bad_field:1 bad_time:1 bad_name:1 too_large:1; do
	[ "$(e "${r%:*}")" = "${r#*:}" ] || fail "reason ${r%:*}: $(e "${r%:*}") (want ${r#*:})"
done
for f in a_notjson b_cut c_notime d_nofields e_array f_badtime g_badname h_huge; do
	[ -e "$D/failed/message_$f.json" ] || fail "message_$f.json not in failed/"
	[ "$(grep -c "message_$f.json refused" "$T/powerd.log")" = 1 ] || fail "not one log line for $f"
done
[ -d "$D/message_i_dir.json" ] && [ -p "$D/message_j_fifo.json" ] || fail "non-files were touched"
[ "$(m 'powerd_source_up{source="pp1",kind="json"}')" = 1 ] || fail "the source is not up"

[ -e "$R/message_bad.json" ] || fail "the bad file in the read-only directory is gone"
[ "$(m 'powerd_source_errors_total{source="ro",kind="json",reason="not_json"}')" = 1 ] ||
	fail "the read-only directory's bad file is not counted"
grep -q "message_bad.json refused (not_json.*left in place" "$T/powerd.log" ||
	fail "no 'left in place' line for the read-only directory"

# The directory disappears and comes back with new files.
mv "$D" "$T/gone"
gone() { curl -fsS "$URL/api/status" | grep -q 'is gone'; }
wait_for 10 gone || fail "the source does not say the directory is gone"
mkdir "$D"
python3 tools/genpp1.py "$D" --files 3 --start $(($(date +%s) - 600)) >/dev/null
back() { [ "$(lines)" -ge 289 ]; }
wait_for 30 back || fail "after the directory came back: $(lines) of 289 records"
pd_stop TERM
sanitizer_clean "$T/powerd.log"
echo PASS
