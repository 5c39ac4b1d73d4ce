#!/bin/bash
# The uploader's promise, against real servers (InfluxDB 1.6, VictoriaMetrics):
#  1. outage + kill -9: samples flow (replay, real time); both servers are
#     stopped in turn, powerd is killed with SIGKILL during the outage and
#     started again, the servers come back: every sample that reached a spool
#     arrives exactly once per series-timestamp in both databases (the file
#     sink, fed from the same samples, is the ground truth: same timestamps).
#  2. a spool segment corrupted by hand: powerd starts, skips and counts the
#     bad record, delivers the rest.
#  3. a spool filled past spool_max: the oldest data is dropped and counted,
#     the newest is delivered.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	servers_stop
	rm -rf "$T"
}
trap cleanup EXIT
command -v influxd >/dev/null && command -v victoria-metrics >/dev/null ||
	{ echo "influxdb or victoria-metrics not installed"; exit 77; }

influx_start "$T/influx" || fail "InfluxDB did not start"
vm_start "$T/vm" || fail "VictoriaMetrics did not start"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

write_conf() { # $1 = with meter (trace file) or "", $2 = db, $3 = extra sink keys
	{
		cat <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
persist_interval = 1s
EOC
		[ -n "$1" ] && cat <<EOC
[pulse.house]
replay           = $1
speed            = ${SPEED:-1}
impulses_per_kwh = 1000
min_pulse_ms     = 5
sample_interval  = 100h             ; flashes only: countable
timeout          = 100h
EOC
		cat <<EOC
[sink.influx]
type           = influxdb
url            = $INFLUX_URL
database       = $2
flush_interval = 200ms
retry_base     = 100ms
retry_max      = 1s
timeout        = 2s
${3:-}
[sink.vm]
type           = influxdb
url            = $VM_URL
org            = home
bucket         = $2
token          = not-checked
flush_interval = 200ms
retry_base     = 100ms
retry_max      = 1s
timeout        = 2s
[sink.truth]
type           = file
path           = $T/$2.lp
flush_interval = 200ms
EOC
	} >"$T/powerd.conf"
}
start() {
	"$PD" -c "$T/powerd.conf" 2>>"$T/powerd.log" &
	PID=$!
	wait_for 20 curl -fsS "$URL/metrics" || { tail -n 30 "$T/powerd.log"; fail "powerd did not start"; }
}
sinkm() { metric "powerd_sink_$1{sink=\"$2\"}" "$URL/metrics"; }
drained() { # every sink has sent everything it accepted and its spool is empty
	local s
	for s in influx vm truth; do
		[ "$(sinkm spool_unsent_bytes "$s")" = 0 ] || return 1
	done
}
# Distinct timestamps (ns) of the samples in each place.
truth_ts() { awk '{ print $NF }' "$T/$1.lp" | sort -u; }
influx_ts() {
	influx_query "SELECT power_w, energy_wh FROM pulse" "$1" |
		python3 -c 'import json,sys
d=json.load(sys.stdin)
for s in d["results"][0].get("series", []):
    for v in s["values"]: print(v[0])' | sort -u
}
# VictoriaMetrics keeps milliseconds: compare at that resolution.  Its
# /api/v2/write (1.79) ignores the bucket, so this is every pulse sample it
# holds: compared in scenario 1, before any other data reaches it.
vm_ts_ms() {
	vm_export '{__name__="pulse_energy_wh"}' | python3 -c 'import json,sys
for l in sys.stdin:
    if l.strip():
        for t in json.loads(l)["timestamps"]: print(t)' | sort -u
}
lines_at_least() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
truth_ts_ms() { truth_ts "$1" | sed 's/......$//' | sort -u; }

# ------------------------------------------------------------ 1. outages + kill -9
influx_query "CREATE DATABASE run1" >/dev/null
influx_query "CREATE DATABASE run2" >/dev/null
influx_query "CREATE DATABASE run3" >/dev/null
python3 tools/gentrace.py --profile constant:36000 --seconds 20 --seed 4 -o "$T/fast.txt" 2>/dev/null
write_conf "$T/fast.txt" run1
start
sleep 3
influx_stop KILL
sleep 2
vm_stop   # TERM: VictoriaMetrics loses its last seconds on SIGKILL (its own, after a 2xx)
sleep 2
up_is() { [ "$(sinkm up "$1")" = "$2" ]; }
wait_for 10 up_is influx 0 || fail "influx sink not shown as failing during the outage: $(sinkm up influx)"
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
# Back without the meter: only what the spools hold is left to deliver.
write_conf "" run1
start
sleep 1
influx_start "$T/influx" || fail "InfluxDB did not come back"
vm_start "$T/vm" || fail "VictoriaMetrics did not come back"
wait_for 60 drained || fail "spools not drained: $(curl -s "$URL/api/status")"
N=$(truth_ts run1 | wc -l)
[ "$N" -gt 20 ] || fail "only $N samples reached the file sink"
diff <(truth_ts run1) <(influx_ts run1) >"$T/d1" || fail "InfluxDB differs from the produced samples: $(head "$T/d1")"
diff <(truth_ts_ms run1) <(vm_ts_ms run1) >"$T/d2" || fail "VictoriaMetrics differs: $(head -n 3 "$T/d2"); status: $(curl -s "$URL/api/status" | python3 -c "import json,sys; print([s for s in json.load(sys.stdin)[\"sinks\"] if s[\"name\"]==\"vm\"])")"
R=$(sinkm samples_retried_total influx)
[ "${R:-0}" -gt 0 ] || fail "no retries were counted during the outage"
kill -TERM "$PID"
wait "$PID" || fail "powerd exited non-zero"
PID=
echo "1: $N samples, each exactly once in InfluxDB and VictoriaMetrics after outages and kill -9"

# ------------------------------------------------------------ 2. a corrupt spool record
python3 tools/gentrace.py --profile constant:3600 --seconds 600 --seed 5 -o "$T/mid.txt" 2>/dev/null
influx_stop
SPEED=0 write_conf "$T/mid.txt" run2 "batch_size = 50"
start
wait_for 30 lines_at_least "$T/run2.lp" 500 || fail "no samples"
sleep 2
kill -TERM "$PID"
wait "$PID"
PID=
SEG=$(ls "$T/state/spool/influx/"*.seg | head -1)
SIZE=$(stat -c %s "$SEG")
[ "$SIZE" -gt 2000 ] || fail "influx spool too small to corrupt ($SIZE bytes)"
# Flip a byte in the middle: one record's CRC no longer matches.
printf '\xff' | dd of="$SEG" bs=1 seek=$((SIZE / 2)) conv=notrunc 2>/dev/null
influx_start "$T/influx" || fail "InfluxDB did not come back"
write_conf "" run2 "batch_size = 50"
start
wait_for 60 drained || fail "spool with a corrupt record not drained"
C=$(metric 'powerd_sink_samples_dropped_total{sink="influx",reason="corrupt"}' "$URL/metrics")
[ "${C:-0}" -ge 1 ] || fail "corrupt record not counted"
GOT=$(influx_ts run2 | wc -l) WANT=$(truth_ts run2 | wc -l)
[ "$GOT" -lt "$WANT" ] && [ "$GOT" -ge $((WANT - 100)) ] ||
	fail "after corruption: $GOT of $WANT samples delivered (want all but one record)"
kill -TERM "$PID"
wait "$PID"
PID=
echo "2: corrupt record skipped and counted ($C), $GOT of $WANT delivered"

# ------------------------------------------------------------ 3. spool cap
influx_stop
python3 tools/gentrace.py --profile constant:36000 --seconds 3000 --seed 6 -o "$T/big.txt" 2>/dev/null
# This one is about the cap's accounting, not durability: no fsync, so a
# busy disk cannot stretch 300 small batches into minutes.
SPEED=0 write_conf "$T/big.txt" run3 "spool_max = 64KiB
batch_size = 100
spool_fsync = never"
start
wait_for 180 lines_at_least "$T/run3.lp" 29000 || fail "replay did not finish: $(wc -l <"$T/run3.lp") lines"
D=$(metric 'powerd_sink_samples_dropped_total{sink="influx",reason="spool_full"}' "$URL/metrics")
[ "${D:-0}" -gt 0 ] || fail "spool cap: nothing dropped"
B2=$(sinkm spool_bytes influx)
[ "$B2" -le $((64 * 1024 + 4 * 1024 * 1024)) ] || fail "spool at $B2 bytes"
influx_start "$T/influx" || fail "InfluxDB did not come back"
wait_for 60 drained || fail "capped spool not drained"
LAST_TRUTH=$(truth_ts run3 | tail -1)
LAST_INFLUX=$(influx_ts run3 | tail -1)
[ "$LAST_TRUTH" = "$LAST_INFLUX" ] || fail "newest sample not delivered ($LAST_INFLUX vs $LAST_TRUTH)"
GOT=$(influx_ts run3 | wc -l)
WANT=$(truth_ts run3 | wc -l)
# Read again now that all is settled: the last batches may have been spooled
# (and the cap may have dropped more) after the first look.
D=$(metric 'powerd_sink_samples_dropped_total{sink="influx",reason="spool_full"}' "$URL/metrics")
[ $((GOT + D)) -eq "$WANT" ] || fail "delivered $GOT + dropped $D != produced $WANT"
grep -q "spool" "$T/powerd.log" || fail "the drop was not logged"
kill -TERM "$PID"
wait "$PID"
PID=
if grep -E "Sanitizer|runtime error" "$T/powerd.log"; then fail "sanitizer report"; fi
echo "3: spool cap dropped the oldest $D, delivered the newest $GOT; delivered + dropped = produced"
