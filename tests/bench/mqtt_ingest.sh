#!/usr/bin/env bash
# make bench, the MQTT source: N Pico messages (default 50,000, QoS 1) queued
# by a local mosquitto for two persistent sessions, then drained, one after
# the other in this run: by `mosquitto_sub -C N` (the floor: receiving and
# printing them) and by powerd's [mqtt.pico] (format = telegraf) into a file
# sink, timed from its start until the sink has written all N.  Both get
# the broker's default in-flight window (20 messages).
#   tests/bench/mqtt_ingest.sh BUILD_DIR
# Prints one "mqtt_ingest key=value ..." line.  Environment: BENCH_MQTT_N.
set -euo pipefail
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PD=$B/powerd
N=${BENCH_MQTT_N:-50000}
cd "$ROOT"
. tests/lib_mqtt.sh
mqtt_have || { echo "bench: mosquitto and mosquitto-clients are needed" >&2; exit 1; }
T=$(mktemp -d /tmp/powerd-bench-mqtt-XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; mqtt_cleanup; rm -rf "$T"' EXIT
now() { date +%s.%N; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The broker holds every message for both sessions (its default stops at 1,000).
mqtt_start "max_queued_messages 0" "max_queued_bytes 0" >/dev/null
p=$(port)
cat >"$T/pd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$p
socket    = $T/pd.sock
[mqtt.pico]
port        = $MQTT_PORT
client_id   = bench-powerd
topics      = home/pico/+
name_key    = measurement
time_key    = timestamp
time_format = unix
tag_keys    = host
[sink.lp]
type = file
path = $T/out.lp
EOC
sent() {
	curl -fsS --max-time 2 "http://127.0.0.1:$p/metrics" 2>/dev/null |
		sed -n 's/^powerd_sink_samples_sent_total{sink="lp"} //p'
}
up() {
	curl -fsS --max-time 2 "http://127.0.0.1:$p/metrics" 2>/dev/null |
		grep -q '^powerd_source_up{source="pico",kind="mqtt"} 1$'
}
# The sessions: made, then left, so the broker queues for both.
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i bench-sub -t 'home/pico/+' -C 1 -W 1 \
	>/dev/null 2>&1 || true
"$PD" -c "$T/pd.conf" 2>"$T/pd.log" &
PID=$!
for ((i = 0; i < 1500; i++)); do up && break; sleep 0.02; done
up || { tail "$T/pd.log" >&2; echo "bench: powerd did not subscribe" >&2; exit 1; }
kill "$PID"; wait "$PID" || true
PID=
python3 -c 'import sys
for i in range(int(sys.argv[1])):
    print("{\"power\": \"%d.5\", \"timestamp\": \"%d\", \"measurement\": \"house\", \"host\": \"pico%d\"}" % (i % 4000, 1773500000 + i, i % 8))' "$N" >"$T/msgs"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -i bench-pub -t home/pico/1 -l <"$T/msgs"

# The floor: mosquitto_sub drains its queue.
t0=$(now)
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i bench-sub -t 'home/pico/+' -C "$N" -W 300 \
	>"$T/sub.out"
t1=$(now)
got=$(grep -c . "$T/sub.out")
[ "$got" = "$N" ] || { echo "bench: mosquitto_sub got $got of $N" >&2; exit 1; }

# powerd drains its own.
t2=$(now)
"$PD" -c "$T/pd.conf" 2>>"$T/pd.log" &
PID=$!
for ((i = 0; i < 30000; i++)); do
	s=$(sent) || true
	[ "${s:-0}" -ge "$N" ] && break
	sleep 0.01
done
t3=$(now)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill "$PID"; wait "$PID" || true
PID=
lines=$(grep -c . "$T/out.lp")
[ "$lines" = "$N" ] || { echo "bench: powerd wrote $lines of $N" >&2; exit 1; }
awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v h="$hwm" 'BEGIN {
	sub_r = n / (b - a); pd_r = n / (d - c)
	printf "mqtt_ingest messages=%d powerd_msgs_per_s=%.0f sub_msgs_per_s=%.0f ratio=%.2f powerd_s=%.2f sub_s=%.2f hwm_kb=%d\n",
		n, pd_r, sub_r, pd_r / sub_r, d - c, b - a, h }'
