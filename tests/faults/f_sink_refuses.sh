#!/bin/bash
# Fault: a server that refuses every sample (issue 6, item 12).  A real
# InfluxDB 1.x with `energy_wh` already stored as a string refuses every
# float write with 400 "field type conflict".  Wanted: every sample is
# bisected out, dropped and counted (reason rejected) exactly; the log has
# a line per minute at most, with the count, not one per sample; and
# powerd_sink_up is 0 while the last request was refused, 1 again once the
# server takes data.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
cleanup() {
	servers_stop
	fault_cleanup
}
trap cleanup EXIT
command -v influxd >/dev/null || { echo "influxdb not installed"; exit 77; }
influx_start "$T/influx" || fail "InfluxDB did not start"
influx_query "CREATE DATABASE refuse" >/dev/null
# Field types are per shard (a week): the conflict must be in this week's.
curl -fsS -XPOST "$INFLUX_URL/write?db=refuse" \
	--data-binary "pulse,meter=house energy_wh=\"text\" $(date +%s%N)" || fail "seeding the conflict"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
python3 tools/gentrace.py --profile constant:36000 --seconds 50 --seed 5 -o "$T/trace.txt" 2>/dev/null
N=$("$B/pulselog" "$T/trace.txt" --impulses-per-kwh 1000 --quiet | sed -E 's/.*flashes=([0-9]+).*/\1/')
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
[pulse.house]
replay           = $T/trace.txt
speed            = 0
impulses_per_kwh = 1000
sample_interval  = 100h
timeout          = 100h
[sink.influx]
type           = influxdb
url            = $INFLUX_URL
database       = refuse
batch_size     = 100
flush_interval = 100ms
gzip           = no
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
L0=$(log_lines "$T/powerd.log")
all_refused() { [ "$(m 'powerd_sink_samples_dropped_total{sink="influx",reason="rejected"}')" = "$N" ]; }
wait_for 20 all_refused ||
	fail "rejected $(m 'powerd_sink_samples_dropped_total{sink="influx",reason="rejected"}') of $N"
CPU=$(cpu_pct "$PID" 2)
L1=$(log_lines "$T/powerd.log")
UP=$(m 'powerd_sink_up{sink="influx"}')
REQ=$(m 'powerd_sink_requests_total{sink="influx"}')
[ "$UP" = 0 ] || fail "powerd_sink_up is $UP while every request is refused"
[ "$(m 'powerd_sink_samples_sent_total{sink="influx"}')" = 0 ] || fail "samples counted as sent"
RL=$(grep -c "the server refused" "$T/powerd.log")
[ $((L1 - L0)) -le 3 ] && [ "$RL" -eq 1 ] ||
	{ tail -n 10 "$T/powerd.log"; fail "$RL refusal lines, $((L1 - L0)) lines in all, for $N refused samples"; }
grep -q "the server refused 1 sample" "$T/powerd.log" || fail "the first refusal was not logged"
grep -q "field type conflict" "$T/powerd.log" || fail "the server's message was not logged"
[ "$CPU" -lt 5 ] || fail "$CPU % CPU once everything was refused"
echo "refused: $N samples dropped and counted in $REQ requests, $RL log line, up=$UP, $CPU % CPU after"
pd_stop

# The server takes data again: up is 1 after the first request that works.
influx_query "DROP MEASUREMENT pulse" refuse >/dev/null
rm -rf "$T/state"
pd_start "$T/powerd.conf" "$T/powerd.log"
sent_all() { [ "$(m 'powerd_sink_samples_sent_total{sink="influx"}')" = "$N" ]; }
wait_for 60 sent_all || fail "sent $(m 'powerd_sink_samples_sent_total{sink="influx"}') of $N"
UP=$(m 'powerd_sink_up{sink="influx"}')
[ "$UP" = 1 ] || fail "powerd_sink_up is $UP after a request that worked"
echo "accepted again: $N sent, up=$UP"
pd_stop
sanitizer_clean "$T/powerd.log"
