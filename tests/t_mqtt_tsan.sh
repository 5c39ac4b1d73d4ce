#!/bin/bash
# The MQTT source under ThreadSanitizer: its connection thread (libmosquitto's
# callbacks, the back-pressure wait, its producer ring), the uploader and the
# I/O thread's status reads, through a burst of messages, two SIGHUP reloads
# (the source stopped and started again, its session resumed) with messages
# published meanwhile, and a stop.  Every message once in the file sink, and
# no TSan report.
#   tests/t_mqtt_tsan.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_mqtt.sh
. tests/faults/lib.sh
mqtt_have || { echo "mosquitto / mosquitto-clients not installed"; exit 77; }
PD=$B/tsan/powerd
[ -x "$PD" ] || { echo "no $PD"; exit 1; }
T=$(mktemp -d)
PID=
cleanup() {
	fault_cleanup
	mqtt_cleanup
}
trap cleanup EXIT
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
# mosquitto drops QoS 1 messages past max_queued_messages (1000) for a
# client that is slower than the publisher (here: under TSan).
mqtt_start "max_queued_messages 0" || fail "cannot start mosquitto"
port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[mqtt.pico]
port        = $MQTT_PORT
topics      = home/pico/+
name_key    = measurement
time_key    = timestamp
time_format = unix
tag_keys    = host
topic_tag   = topic
[sink.lp]
type = file
path = $T/out.lp
flush_interval = 100ms
EOC
lines() { grep -c . "$T/out.lp" 2>/dev/null || echo 0; }
have() { [ "$(lines)" -ge "$1" ]; }
# burst FIRST COUNT: COUNT Pico messages, timestamps FIRST.. (one client, QoS 1).
burst() {
	python3 -c 'import sys
f, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(f, f + n):
    print("{\"power\": \"%d.25\", \"timestamp\": %d, \"measurement\": \"house\", \"host\": \"p%d\"}" % (i, 1773500000 + i, i % 4))' "$1" "$2" |
		mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -i "pub-$$" -t home/pico/x -l ||
		fail "mosquitto_pub"
}
up() { [ "$(metric 'powerd_source_up{source="pico",kind="mqtt"}' "$URL/metrics")" = 1 ]; }
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_for 30 up || fail "not subscribed: $(tail -5 "$T/powerd.log")"
burst 0 2000
wait_for 60 have 2000 || fail "burst: $(lines) of 2000"
for k in 1 2; do
	burst $((2000 + (k - 1) * 400)) 200 &
	kill -HUP "$PID"
	wait $!
	burst $((2200 + (k - 1) * 400)) 200
	wait_for 60 have $((2000 + k * 400)) || fail "reload $k: $(lines) of $((2000 + k * 400))"
done
sleep 1
pd_stop TERM
[ "$(lines)" = 2800 ] || fail "$(lines) samples, want 2800 (each once)"
[ "$(sort "$T/out.lp" | uniq -d | wc -l)" = 0 ] || fail "samples written twice"
grep -q '^house,host=p1,topic=home/pico/x power=1.25 1773500001000000000$' "$T/out.lp" ||
	fail "sample: $(head -2 "$T/out.lp")"
if grep -q "ThreadSanitizer" "$T/powerd.log"; then
	grep -A30 "ThreadSanitizer" "$T/powerd.log" | head -60
	fail "TSan report"
fi
echo PASS
