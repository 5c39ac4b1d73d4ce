#!/bin/bash
# [can.NAME] replay = FILE, end to end on the host (replay needs no AF_CAN):
# for each real capture, powerd replays it as fast as possible into a file
# sink, and what it publishes must be exactly what `canlog --lp` prints for
# the same file (the one decoder, the one sample mapping, the log's own
# times), apart from the source tag the daemon adds; its counters must be
# canlog's (frames, records, decoded); `record =` must give back the very
# candump log it read, byte for byte.  Then: a kernel-style filter applied
# to the replay, damaged lines counted with the good data kept, a decode
# table with a mistake refused at start with FILE:LINE:COL.
#   tests/t_can_replay.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
# PD: another build of the daemon (t_can_tsan.sh: ThreadSanitizer's)
PD=${PD:-$B/asan/powerd}
[ -x "$PD" ] || PD=$B/powerd
CANLOG=$B/canlog
FIX=tests/fixtures/can
TABLE=share/ecoflow.json

T=$(mktemp -d /tmp/powerd-canreplay-XXXXXX)
PID=
trap 'fault_cleanup; rm -rf "$T"' EXIT
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

# conf NAME FILE [EXTRA_LINES]: a replay at speed 0 into $T/NAME.lp
conf() {
	cat >"$T/$1.conf" <<EOF
[daemon]
state_dir = $T/$1.state
listen = 127.0.0.1:$PORT
socket = $T/$1.sock
[can.battery]
replay = $PWD/$2
speed = 0
record = $T/$1.rec
$3
[sink.out]
type = file
path = $T/$1.lp
EOF
}

status() { curl -fsS "$URL/api/status"; }
src() { json_get "$(status)" "[s for s in d['sources'] if s['name']=='battery'][0]$1"; }
idle() { [ "$(src "['state']")" = idle ]; }
# The file sink has written every sample the source published.
shipped() { [ "$(wc -l <"$T/$1.lp" 2>/dev/null || echo 0)" -ge "$(src "['samples']")" ]; }

# run NAME: powerd on NAME.conf until the replay is done and shipped
run() {
	pd_start "$T/$1.conf" "$T/$1.log"
	wait_for 60 idle || fail "$1: the replay did not finish: $(status)"
	wait_for 30 shipped "$1" || fail "$1: the file sink has $(wc -l <"$T/$1.lp") lines"
	STATUS=$(status)
	pd_stop
	sanitizer_clean "$T/$1.log"
}
canval() { json_get "$STATUS" "[s for s in d['sources'] if s['name']=='battery'][0]$1"; }

n=0
for f in "$FIX"/*.log "$FIX"/*.csv; do
	n=$((n + 1))
	name=cap$n
	csv=
	case "$f" in *.csv) csv=--csv ;; esac
	conf "$name" "$f" ""
	run "$name"
	# shellcheck disable=SC2086 # an optional flag
	"$CANLOG" "$f" $csv --decode="$TABLE" --lp >"$T/$name.ref" 2>"$T/$name.sum" ||
		fail "$name: canlog failed: $(cat "$T/$name.sum")"
	sed 's/,source=battery//' "$T/$name.lp" >"$T/$name.got"
	if [ -n "$csv" ]; then
		# This CSV's times are all 0 (none): powerd stamps the frames as
		# it plays them, canlog leaves 0.  The rest must be the same.
		sed -i 's/ [0-9]*$//' "$T/$name.got" "$T/$name.ref"
	fi
	if ! cmp -s "$T/$name.got" "$T/$name.ref"; then
		diff "$T/$name.got" "$T/$name.ref" | head -5 >&2
		fail "$name ($f): powerd's samples differ from canlog --lp"
	fi
	# canlog's summary: "# L lines (0 bad), F frames, R records: G good, ..."
	frames=$(sed -n 's/.* \([0-9]*\) frames, .*/\1/p' "$T/$name.sum")
	records=$(sed -n 's/.* \([0-9]*\) records: .*/\1/p' "$T/$name.sum")
	[ "$(canval "['can']['frames']")" = "$frames" ] ||
		fail "$name: frames $(canval "['can']['frames']"), canlog says $frames"
	[ "$(canval "['can']['records']")" = "$records" ] ||
		fail "$name: records $(canval "['can']['records']"), canlog says $records"
	[ "$(canval "['can']['decoded']")" = "$(wc -l <"$T/$name.ref")" ] ||
		fail "$name: decoded $(canval "['can']['decoded']"), canlog --lp has $(wc -l <"$T/$name.ref")"
	if [ -z "$csv" ]; then
		# (single-message-3C.log has no final newline; the record has)
		{
			cat "$f"
			[ -n "$(tail -c1 "$f")" ] && echo
		} | cmp -s "$T/$name.rec" - || fail "$name: record = is not the log it replayed"
	else
		[ "$(wc -l <"$T/$name.rec")" = "$frames" ] || fail "$name: record has $(wc -l <"$T/$name.rec") of $frames frames"
		"$CANLOG" "$T/$name.rec" --decode="$TABLE" --lp 2>/dev/null | sed 's/ [0-9]*$//' |
			cmp -s - "$T/$name.ref" ||
			fail "$name: the recorded CSV does not decode as the CSV does"
	fi
	echo "ok: $(basename "$f"): $frames frames, $records records, $(wc -l <"$T/$name.ref") decoded, as canlog"
done

# A filter on a replay is the kernel's rule: channel B and up (bit 28 set).
LFP=$FIX/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log
conf filt "$LFP" "filter = 10000000:10000000"
run filt
want=$(python3 -c 'import sys
ids = [l.split()[2].split("#")[0] for l in open(sys.argv[1]) if l.strip()]
print(sum(1 for i in ids if len(i) == 8 and int(i, 16) & 0x10000000))' "$LFP")
[ "$(canval "['can']['frames']")" = "$want" ] || fail "filter: $(canval "['can']['frames']") frames passed, want $want"
[ "$want" -gt 0 ] && [ "$want" -lt "$(wc -l <"$LFP")" ] || fail "filter: the capture does not exercise it ($want)"
echo "ok: filter 10000000:10000000 passes the $want frames of channels B-E"

# speed = 1 plays a log as if live: its times moved onto the clock.
conf live "$FIX/single-message-3C.log" ""
sed -i 's/^speed = 0$/speed = 1/' "$T/live.conf"
t0=$(date +%s)
run live
t1=$(date +%s)
ts=$(awk '{ print substr($NF, 1, 10) }' "$T/live.lp")
[ -n "$ts" ] && [ "$ts" -ge "$t0" ] && [ "$ts" -le "$t1" ] ||
	fail "speed = 1: the sample's time $ts is not now ($t0..$t1)"
sed 's/,source=battery//; s/ [0-9]*$//' "$T/live.lp" | cmp -s - <(sed 's/ [0-9]*$//' "$T/cap2.ref") ||
	fail "speed = 1: the sample differs from canlog's"
echo "ok: speed = 1: the check vector's record, stamped now ($ts)"

# record_max: the file is renamed to FILE.1 (one generation) when full, and
# the two hold the last frames, whole lines, in order.
conf rot "$LFP" "record_max = 4096"
run rot
[ -f "$T/rot.rec.1" ] || fail "record_max: no $T/rot.rec.1"
size1=$(stat -c %s "$T/rot.rec.1")
size0=$(stat -c %s "$T/rot.rec")
[ "$size1" -ge 4096 ] && [ "$size1" -lt 4300 ] && [ "$size0" -lt 4096 ] ||
	fail "record_max 4096: FILE.1 has $size1 bytes, FILE $size0"
n=$(cat "$T/rot.rec.1" "$T/rot.rec" | wc -l)
cat "$T/rot.rec.1" "$T/rot.rec" | cmp -s - <(tail -n "$n" "$LFP") ||
	fail "record_max: FILE.1 + FILE are not the log's last $n lines"
echo "ok: record_max 4096: FILE.1 $size1 bytes + FILE $size0 bytes, the log's last $n frames"

# Damaged lines: counted, reported with the line number, never the good data.
{
	head -n 100 "$LFP"
	echo "(1744106964.000000) can0 1234#zz"
	echo "garbage"
	tail -n +101 "$LFP"
} >"$T/damaged.log"
conf bad "$LFP" ""
sed -i "s|^replay = .*|replay = $T/damaged.log|" "$T/bad.conf"
run bad
[ "$(canval "['errors']['bad_line']")" = 2 ] || fail "bad lines: counted $(canval "['errors']['bad_line']"), want 2"
grep -q "damaged.log:101: " "$T/bad.log" || fail "bad lines: no message naming line 101: $(grep -i damaged "$T/bad.log" | head -3)"
sed 's/,source=battery//' "$T/bad.lp" | cmp -s - "$T/cap1.ref" || fail "bad lines: the good data changed"
echo "ok: 2 damaged lines counted and reported, every good record kept"

# Transmitting: never from a replay, never over TCP, never to a source
# that does not exist; each refusal a clear line and a non-zero exit.
conf tx "$LFP" ""
pd_start "$T/tx.conf" "$T/tx.log"
printf '(1744106964.000000) can0 10603001#5A45354830363031\n' >"$T/event.log"
PC=$B/powerctl
if "$PC" -s "$T/tx.sock" can send battery "$T/event.log" >"$T/tx.out" 2>&1; then fail "a replay transmitted"; fi
grep -q "a replay has no bus" "$T/tx.out" || fail "transmit from a replay: $(cat "$T/tx.out")"
if "$PC" -s "$T/tx.sock" can send nosuch "$T/event.log" >"$T/tx.out" 2>&1; then fail "an unknown source transmitted"; fi
grep -q "no \[can.nosuch\]" "$T/tx.out" || fail "transmit to an unknown source: $(cat "$T/tx.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/event.log" "$URL/api/can/battery/send")
[ "$code" = 405 ] || fail "a POST over TCP got HTTP $code, want 405"
"$PC" -s "$T/tx.sock" can send battery 2>/dev/null && fail "powerctl can send without a file succeeded"
[ "$(src "['can']['transmit_refused']")" = 1 ] || fail "refusals counted: $(src "['can']['transmit_refused']")"
grep -q "uid $(id -u) asked to transmit: refused" "$T/tx.log" || fail "the refusal is not logged with the uid"
pd_stop
echo "ok: transmitting refused from a replay, over TCP and to an unknown source; logged with the uid"

# A decode table with a mistake: refused at start, FILE:LINE:COL.
sed 's/"offset": 37,/"offset": 300,/' "$TABLE" >"$T/bad.json"
conf tab "$LFP" "decode = $T/bad.json"
if "$PD" -c "$T/tab.conf" >"$T/tab.out" 2>&1; then fail "a bad decode table was accepted"; fi
grep -Eq "bad.json:[0-9]+:[0-9]+: " "$T/tab.out" || fail "bad table: no FILE:LINE:COL in: $(cat "$T/tab.out")"
echo "ok: a bad decode table is refused: $(grep -Eo 'bad.json:[0-9]+:[0-9]+: .*' "$T/tab.out" | head -1)"
echo "ok: can replay"
