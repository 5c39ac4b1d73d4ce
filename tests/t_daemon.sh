#!/bin/bash
# powerd end to end on a replayed trace (ASan+UBSan build): every HTTP
# endpoint, promtool, powerctl, the counts against pulselog and the trace's
# ground truth, energy continuity across a restart, and SIGHUP reloads
# (a bad file keeps the running configuration; a good one applies).
# VARIANT=tsan runs the same with the ThreadSanitizer build.
set -u
B=${1:-build}
. tests/lib.sh
V=${VARIANT:-asan}
PD=$B/$V/powerd CTL=$B/$V/powerctl
[ -x "$PD" ] || fail "$PD not built"
T=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

python3 tools/gentrace.py --profile household --seconds 7200 --jitter-us 50 --glitches 0.2 \
	--seed 3 -o "$T/trace.txt" --truth "$T/truth.json" 2>/dev/null || fail "gentrace"
N=$(json_get "$(cat "$T/truth.json")" 'd["flashes"]')
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
write_conf() { # meter name
	cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/run/powerd.sock
persist_interval = 1s
edge_ring        = 64           ; small: the replay must wait, never drop

[pulse.$1]
replay           = $T/trace.txt
speed            = 0
impulses_per_kwh = 1000
min_pulse_ms     = 5
sample_interval  = 100h

[sink.lp]
type             = file
path             = $T/samples.lp
flush_interval   = 100ms
EOC
}
start() {
	"$PD" -c "$T/powerd.conf" 2>>"$T/powerd.log" &
	PID=$!
	wait_for 20 curl -fsS "$URL/metrics" || { cat "$T/powerd.log"; fail "powerd did not serve /metrics"; }
}
stop() {
	kill -TERM "$PID"
	wait "$PID"
	local rc=$?
	PID=
	[ $rc -eq 0 ] || { tail -n 30 "$T/powerd.log"; fail "powerd exited $rc on SIGTERM"; }
}
flashes() { metric "powerd_pulse_flashes_total{meter=\"$1\"}" "$URL/metrics"; }
has_flashes() { [ "$(flashes "$1")" = "$2" ]; }

write_conf house
start
T_START=$(date +%s)
wait_for 30 has_flashes house "$N" || fail "flashes_total $(flashes house), expected $N (ground truth)"

# The daemon and pulselog run the same code on the same trace.
read -r PL_FLASHES PL_GLITCHES < <("$B/pulselog" "$T/trace.txt" --impulses-per-kwh 1000 --quiet |
	sed -E 's/.*flashes=([0-9]+) glitches_rejected=([0-9]+).*/\1 \2/')
[ "$PL_FLASHES" = "$N" ] || fail "pulselog counted $PL_FLASHES flashes, truth $N"
G=$(metric 'powerd_pulse_glitches_total{meter="house"}' "$URL/metrics")
[ "$G" = "$PL_GLITCHES" ] || fail "daemon glitches $G, pulselog $PL_GLITCHES"
[ "$G" -gt 0 ] || fail "the trace has glitches but none were rejected"
# One sample per flash reached the file sink, through the uploader.
lp_complete() { [ "$(grep -c interval_s "$T/samples.lp" 2>/dev/null)" = "$((N - 1))" ]; }
wait_for 10 lp_complete || fail "file sink: $(grep -c interval_s "$T/samples.lp") flash samples with an interval, want $((N - 1))"
E=$(metric 'powerd_pulse_energy_joules_total{meter="house"}' "$URL/metrics")
[ "$E" = "$((N * 3600))" ] || fail "energy $E J, expected $((N * 3600))"
for m in powerd_pulse_events_lost_total powerd_pulse_input_errors_total; do
	[ "$(metric "$m{meter=\"house\"}" "$URL/metrics")" = 0 ] || fail "$m not 0"
done
[ "$(metric 'powerd_ring_dropped_total{ring="edges"}' "$URL/metrics")" = 0 ] || fail "ring drops"
# speed = 0 maps the trace to end when the replay started: nothing in the future.
LAST=$(metric 'powerd_pulse_last_flash_timestamp_seconds{meter="house"}' "$URL/metrics")
python3 -c "import sys,time; l=float('$LAST'); sys.exit(0 if $T_START-5 <= l <= time.time() else 1)" ||
	fail "last flash timestamp $LAST not at the replay start ($T_START)"

# promtool finds nothing.
curl -fsS "$URL/metrics" >"$T/metrics.txt"
OUT=$(promtool check metrics <"$T/metrics.txt" 2>&1) || fail "promtool: $OUT"
[ -z "$OUT" ] || fail "promtool findings: $OUT"
grep -q '^# TYPE powerd_pulse_energy_joules_total counter' "$T/metrics.txt" || fail "energy TYPE"

# /api/status and / and errors.
J=$(curl -fsS "$URL/api/status") || fail "/api/status"
[ "$(json_get "$J" 'd["sources"][0]["flashes"]')" = "$N" ] || fail "/api/status flashes"
[ "$(json_get "$J" 'd["sources"][0]["name"]')" = house ] || fail "/api/status name"
curl -fsS "$URL/" | grep -q house || fail "/ has no meter row"
# The history (filled on the meter thread, read here): the trace's last hour.
J=$(curl -fsS "$URL/api/history?source=house") || fail "/api/history"
[ "$(json_get "$J" 'len(d["series"][0]["points"]) > 0')" = True ] || fail "/api/history: $J"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" = 404 ] || fail "404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")" = 405 ] || fail "405"

# powerctl over the Unix socket.
S=$("$CTL" -s "$T/run/powerd.sock" status) || fail "powerctl status"
echo "$S" | grep -E "^ *house " | grep -q " $N " || fail "powerctl row: $S"
J=$("$CTL" -s "$T/run/powerd.sock" status --json) || fail "powerctl --json"
[ "$(json_get "$J" 'd["sources"][0]["flashes"]')" = "$N" ] || fail "powerctl --json flashes"

# A clean stop saves the counter; a restart continues from it (and the
# same trace replayed again adds N more).
stop
grep -q "^flashes $N$" "$T/state/pulse.house.state" || fail "state file: $(cat "$T/state/pulse.house.state")"
start
wait_for 30 has_flashes house $((2 * N)) || fail "after restart: $(flashes house), expected $((2 * N))"

# SIGHUP with a broken file: rejected, the running configuration stays.
cp "$T/powerd.conf" "$T/good.conf"
echo "bogus_key = 1" >>"$T/powerd.conf"
kill -HUP "$PID"
reload_errors() { [ "$(metric 'powerd_config_reloads_total{result="error"}' "$URL/metrics")" = 1 ]; }
wait_for 10 reload_errors || fail "bad reload not counted"
grep -q "powerd.conf:[0-9]*: unknown key 'bogus_key'" "$T/powerd.log" || fail "reload error not logged with FILE:LINE"
has_flashes house $((2 * N)) || fail "state lost after a rejected reload"

# SIGHUP with a good file: a new meter name appears; the old one is gone.
write_conf garage
kill -HUP "$PID"
wait_for 30 has_flashes garage "$N" || fail "reload did not start [pulse.garage]"
[ -z "$(flashes house)" ] || fail "the removed meter is still exported"
[ "$(metric 'powerd_config_reloads_total{result="ok"}' "$URL/metrics")" = 1 ] || fail "reloads ok"
stop
if grep -E "Sanitizer|runtime error|ThreadSanitizer" "$T/powerd.log"; then fail "sanitizer report in the log"; fi
echo "ok: $N flashes, $G glitches, restart and reloads"
