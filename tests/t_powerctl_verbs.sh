#!/bin/bash
# powerctl's first-hour verbs against a running powerd (ASan+UBSan build),
# replayed meters: capture (a trace whose pulselog count is the meter's,
# one at a time, errors), tail (filter, both formats, exact
# values, --count, --seconds, a stalled reader stalls neither the daemon
# nor `status`), set-energy (reply, metric, checkpoint, restart, log line
# with the uid, errors), reload (good and bad file), the errors when powerd
# is down and EACCES for a user outside the socket's group.
# VARIANT=tsan runs it with the ThreadSanitizer build.
set -u
B=${1:-build}
. tests/lib.sh
V=${VARIANT:-asan}
PD=$B/$V/powerd CTL=$B/$V/powerctl
[ -x "$PD" ] && [ -x "$CTL" ] || fail "$PD or $CTL not built"
T=$(mktemp -d)
PID= STALL= CAP=
cleanup() {
	[ -n "$STALL" ] && kill -9 "$STALL" 2>/dev/null
	[ -n "$CAP" ] && kill -9 "$CAP" 2>/dev/null
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"

# 3600 W: a flash a second at 1000 imp/kWh; 1800 W: one every 2 s.
python3 tools/gentrace.py --profile constant:3600 --seconds 900 -o "$T/house.txt" || fail gentrace
python3 tools/gentrace.py --profile constant:1800 --seconds 900 -o "$T/garage.txt" || fail gentrace
# pv: idle for 8 s (one edge to 0 at the start, so the replay starts at
# once), then 4 s of flashes with glitches: all of it inside a capture
# started right after powerd answers.
{ echo "0.000000000 0"; python3 tools/gentrace.py --profile constant:3600 --seconds 4 --start 8 \
	--glitches 2 --seed 5 --truth "$T/pv.json"; } >"$T/pv.txt" 2>/dev/null || fail gentrace
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
S=$T/run/powerd.sock
write_conf() { # extra line for [daemon]
	cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $S
persist_interval = 1h
$1

[pulse.house]
replay           = $T/house.txt
impulses_per_kwh = 1000
sample_interval  = 100h

[pulse.garage]
replay           = $T/garage.txt
impulses_per_kwh = 1000
sample_interval  = 100h

[pulse.pv]
replay           = $T/pv.txt
impulses_per_kwh = 1000
min_pulse_ms     = 5
sample_interval  = 100h

[json.bulk]
path             = $T/in
format           = points

[sink.lp]
type             = file
path             = $T/samples.lp
flush_interval   = 100ms
EOC
}
start() {
	"$PD" -c "$T/powerd.conf" 2>>"$T/powerd.log" &
	PID=$!
	wait_for 20 "$CTL" -s "$S" status || { cat "$T/powerd.log"; fail "powerd did not answer"; }
}
stop() {
	kill -TERM "$PID"
	wait "$PID"
	local rc=$?
	PID=
	[ $rc -eq 0 ] || { tail -n 30 "$T/powerd.log"; fail "powerd exited $rc on SIGTERM"; }
}

# --- down: socket missing, then a socket nobody accepts on.
out=$("$CTL" -s "$S" tail --count 1 2>&1) && fail "tail succeeded with powerd down"
grep -q "powerd is not running" <<<"$out" || fail "tail, powerd down: $out"
for v in "set-energy house 1" reload "capture house 1"; do
	# shellcheck disable=SC2086
	out=$("$CTL" -s "$S" $v 2>&1) && fail "$v succeeded with powerd down"
	grep -q "powerd is not running" <<<"$out" || fail "$v, powerd down: $out"
done

mkdir -p "$T/in"
write_conf ""
start

# --- capture: runs while the tail tests do.
"$CTL" -s "$S" capture pv 14 -o "$T/cap.txt" 2>"$T/cap.err" &
CAP=$!
sleep 0.5
out=$("$CTL" -s "$S" capture house 5 2>&1) && fail "a second capture at once"
grep -q "another capture is running" <<<"$out" || fail "capture EBUSY: $out"
out=$("$CTL" -s "$S" capture nosuch 5 2>&1) && fail "capture of an unknown meter"
grep -q "no \[pulse.nosuch\]" <<<"$out" || fail "capture nosuch: $out"
"$CTL" -s "$S" capture pv 601 >/dev/null 2>&1 && fail "a capture of 601 s"

# --- tail: the filter, exact values, --count ends it.
timeout 20 "$CTL" -s "$S" tail house --count 3 >"$T/t1" 2>"$T/t1.err" || fail "tail house: $(cat "$T/t1.err")"
[ "$(wc -l <"$T/t1")" = 3 ] || fail "tail --count 3 printed $(wc -l <"$T/t1") lines"
grep -vq '^pulse,meter=house ' "$T/t1" && fail "tail house printed another source's samples: $(cat "$T/t1")"
# A flash sample at constant power: exactly 3600 W over a 1 s interval.
timeout 20 "$CTL" -s "$S" tail garage --json --count 2 >"$T/t2" 2>"$T/t2.err" || fail "tail --json: $(cat "$T/t2.err")"
python3 - "$T/t2" <<'PY' || fail "tail garage --json: $(cat "$T/t2")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
for l in lines:
    d = json.loads(l)
    assert d["measurement"] == "pulse" and d["tags"] == {"meter": "garage"}, d
    f = d["fields"]
    if "interval_s" in f:
        assert abs(f["interval_s"] - 2.0) < 1e-9 and abs(f["power_w"] - 1800) < 1e-6, d
    assert isinstance(d["time_ns"], int) and d["time_ns"] > 1.6e18, d
PY
# Both meters without a filter; --seconds ends it.
timeout 20 "$CTL" -s "$S" tail --seconds 3 >"$T/t3" 2>"$T/t3.err" || fail "tail --seconds: $(cat "$T/t3.err")"
grep -q '^pulse,meter=house ' "$T/t3" && grep -q '^pulse,meter=garage ' "$T/t3" ||
	fail "tail without a filter: $(cat "$T/t3")"
grep 'interval_s=1 ' "$T/t3" | grep -vq 'power_w=3600,' && fail "house: not 3600 W: $(cat "$T/t3")"
# Only on the Unix socket.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/tail")" = 404 ] || fail "GET /api/tail on TCP"
out=$("$CTL" -s "$S" tail nosuch --count 1 2>&1) && fail "tail of an unknown source succeeded"
grep -q "no such source" <<<"$out" || fail "tail nosuch: $out"

# A stalled reader (stopped: it reads nothing) holds its slot, yet the
# daemon goes on and `status` answers; a burst of 4000 samples (a JSON file)
# overflows its ring, and every sample is either read or told as dropped.
"$CTL" -s "$S" tail bulk >"$T/stall.out" 2>"$T/stall.err" &
STALL=$!
tails_on() { curl -fsS "$URL/metrics" | grep -q 'powerd_http_connections{listener="unix"} [1-9]'; }
wait_for 10 tails_on || fail "the tail did not connect"
sleep 0.5
kill -STOP "$STALL"
python3 - "$T/bulk.json" <<'PY'
import json, sys
pts = [{"measurement": "bulk", "tags": {"source": "bulk"},
        "time": "2026-01-01T00:%02d:%02d.%03dZ" % (i // 60000, i // 1000 % 60, i % 1000),
        "fields": {"n": i, "pad": "x" * 40}} for i in range(4000)]
json.dump(pts, open(sys.argv[1], "w"))
PY
mv "$T/bulk.json" "$T/in/bulk.json"
bulk_in() { [ "$(metric 'powerd_source_samples_total{source="bulk",kind="json"}' "$URL/metrics")" = 4000 ]; }
wait_for 30 bulk_in || fail "the JSON burst: $(metric 'powerd_source_samples_total{source="bulk",kind="json"}' "$URL/metrics") samples"
f0=$(metric 'powerd_pulse_flashes_total{meter="house"}' "$URL/metrics")
more_flashes() { [ "$(metric 'powerd_pulse_flashes_total{meter="house"}' "$URL/metrics")" -gt $((f0 + 2)) ]; }
wait_for 20 more_flashes || fail "the daemon stalled behind a stopped tail"
for i in 1 2 3; do
	timeout 10 "$CTL" -s "$S" status >/dev/null || fail "status did not answer while a tail was stopped"
done
timeout 20 "$CTL" -s "$S" tail house --count 1 >/dev/null || fail "a second tail beside a stopped one"
kill -CONT "$STALL"
accounted() {
	local got dropped
	got=$(grep -c '^bulk,source=bulk ' "$T/stall.out")
	dropped=$(sed -nE 's/^powerctl: ([0-9]+) samples dropped.*/\1/p' "$T/stall.err" | awk '{ s += $1 } END { print s + 0 }')
	[ $((got + ${dropped:-0})) = 4000 ]
}
wait_for 20 accounted || fail "stalled tail: $(grep -c '^bulk' "$T/stall.out") read, dropped: $(cat "$T/stall.err")"
grep -q "samples dropped" "$T/stall.err" || fail "a ring of 32 KiB took a burst of 4000 samples"
kill -TERM "$STALL"
wait "$STALL" 2>/dev/null
STALL=

wait "$CAP" || fail "capture: $(cat "$T/cap.err")"
[ "$(cat "$T/cap.err")" = "powerctl: capturing pv for 14 s" ] || fail "capture said: $(cat "$T/cap.err")"
head -1 "$T/cap.txt" | grep -q "^# powerd capture: meter pv, 14 s, [0-9]* edges, 0 lost" || fail "capture header: $(head -1 "$T/cap.txt")"
PVN=$(json_get "$(cat "$T/pv.json")" 'd["flashes"]')
pv_done() { [ "$(metric 'powerd_pulse_flashes_total{meter="pv"}' "$URL/metrics")" = "$PVN" ]; }
wait_for 10 pv_done || fail "meter pv: $(metric 'powerd_pulse_flashes_total{meter="pv"}' "$URL/metrics") flashes, truth $PVN"
PLN=$("$B/pulselog" "$T/cap.txt" --impulses-per-kwh 1000 --min-pulse-ms 5 --quiet | sed -E 's/.*flashes=([0-9]+) .*/\1/')
[ "$PLN" = "$PVN" ] || fail "pulselog counted $PLN flashes in the capture, the meter $PVN"
PLG=$("$B/pulselog" "$T/cap.txt" --impulses-per-kwh 1000 --min-pulse-ms 5 --quiet | sed -E 's/.*glitches_rejected=([0-9]+).*/\1/')
[ "$PLG" = "$(metric 'powerd_pulse_glitches_total{meter="pv"}' "$URL/metrics")" ] && [ "$PLG" -gt 0 ] ||
	fail "capture: pulselog rejected $PLG glitches, the meter $(metric 'powerd_pulse_glitches_total{meter="pv"}' "$URL/metrics")"

# --- set-energy: errors first.
out=$("$CTL" -s "$S" set-energy nosuch 5 2>&1) && fail "set-energy of an unknown meter"
grep -q "no \[pulse.nosuch\]" <<<"$out" || fail "set-energy nosuch: $out"
out=$("$CTL" -s "$S" set-energy house abc 2>&1) && fail "set-energy abc"
grep -q "not a number" <<<"$out" || fail "set-energy abc: $out"
out=$("$CTL" -s "$S" set-energy house -3 2>&1) && fail "set-energy -3"
grep -q "between 0 and" <<<"$out" || fail "set-energy -3: $out"
out=$("$CTL" -s "$S" set-energy house 12345.678 2>&1) || fail "set-energy: $out"
grep -q "meter house: energy 12345.678 kWh (was" <<<"$out" || fail "set-energy reply: $out"
grep -q "energy counter set from .* to 12345.678 kWh .* by uid $(id -u) " "$T/powerd.log" ||
	fail "no log line with the uid: $(tail -n 5 "$T/powerd.log")"
# Written before the reply (persist_interval is an hour here).
grep -qx 'flashes 12345678' "$T/state/pulse.house.state" || fail "checkpoint: $(cat "$T/state/pulse.house.state")"
J=$(metric 'powerd_pulse_energy_joules_total{meter="house"}' "$URL/metrics")
python3 -c "import sys; j=float(sys.argv[1]); assert 12345678*3600 <= j < 12345778*3600, j" "$J" ||
	fail "energy metric after set-energy: $J J"
stop
start
J=$(metric 'powerd_pulse_energy_joules_total{meter="house"}' "$URL/metrics")
python3 -c "import sys; j=float(sys.argv[1]); assert 12345678*3600 <= j < 12345778*3600, j" "$J" ||
	fail "energy after a restart: $J J"

# --- reload: a bad file is refused with its errors and the running
# configuration stays; a good one is taken.
cp "$T/powerd.conf" "$T/good.conf"
echo "nonsense line" >>"$T/powerd.conf"
out=$("$CTL" -s "$S" reload 2>&1) && fail "reload of a bad file succeeded: $out"
grep -q "has errors; keeping the running configuration" <<<"$out" || fail "reload, bad file: $out"
grep -q "powerd.conf:[0-9]*" <<<"$out" || fail "reload, bad file: no line number in: $out"
"$CTL" -s "$S" status >/dev/null || fail "powerd gone after a bad reload"
cp "$T/good.conf" "$T/powerd.conf"
out=$(timeout 40 "$CTL" -s "$S" reload 2>&1) || fail "reload: $out"
[ "$out" = "powerd reloaded its configuration" ] || fail "reload: $out"
[ "$(metric 'powerd_config_reloads_total{result="ok"}' "$URL/metrics")" = 1 ] || fail "reloads_total ok"
[ "$(metric 'powerd_config_reloads_total{result="error"}' "$URL/metrics")" = 1 ] || fail "reloads_total error"

# --- EACCES: a user outside the socket's group.
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 755 "$T/run"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" -s "$S" status 2>&1) &&
		fail "nobody reached the socket"
	grep -q "permission denied on $S: join the powerd group" <<<"$out" || fail "EACCES: $out"
fi
stop
grep -E "Sanitizer|runtime error" "$T/powerd.log" && fail "sanitizer report in the log"
exit 0
