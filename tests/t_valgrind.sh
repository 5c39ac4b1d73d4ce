#!/bin/bash
# The release binaries under Valgrind's memcheck: powerd replaying a trace
# while /metrics, /api/status and powerctl are exercised, then SIGTERM; and
# pulselog on a trace with bad lines, canlog on a capture with one.  Any
# error or leak fails.  HTTP sources too: a good one, one cut mid-body, one
# that never answers (a transfer in flight at the reload and at the stop);
# Modbus over TCP (libmodbus's server: a good device, one answering
# exceptions, one silent) and RTU (a pty), and an EG4 dongle (the fake).
set -u
B=${1:-build}
. tests/lib.sh
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 77; }
T=$(mktemp -d)
PID=
. tests/lib_mqtt.sh
FAKE=
MB= RTU= EG4=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; for p in $FAKE $MB $RTU $EG4; do kill $p 2>/dev/null; done; mqtt_cleanup; rm -rf "$T"' EXIT
VG="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect"

python3 tools/gentrace.py --profile constant:2000 --seconds 600 --glitches 0.3 --seed 5 \
	-o "$T/trace.txt" 2>/dev/null || fail gentrace
printf 'garbage\n' >>"$T/trace.txt"
$VG "$B/pulselog" "$T/trace.txt" --impulses-per-kwh 1000 >/dev/null 2>"$T/pl.err" ||
	{ cat "$T/pl.err"; fail "pulselog under valgrind"; }
# canlog: a capture with a bad line, the decode table, --count, --json, --regen, --hex=diff, --stat, --pivot
{ cat tests/fixtures/can/single-message-3C.log; printf '\n(1.0) can0 zz#\n'; } >"$T/can.log"
for o in --count "--json --err --decode=share/ecoflow.json" "--regen=$T/re.log --err --hex=diff" "--stat --pivot=9 --count"; do
	# shellcheck disable=SC2086
	$VG "$B/canlog" $o "$T/can.log" >/dev/null 2>"$T/cl.err" ||
		{ cat "$T/cl.err"; fail "canlog $o under valgrind"; }
done

# A JSON source too: its reader thread, inotify, a bad file, after = move.
TZ=UTC python3 tools/genpp1.py "$T/msgs" --files 50 --start $(($(date +%s) - 3600)) >/dev/null ||
	fail genpp1
printf '{"telemetry": [' >"$T/msgs/message_bad.json"
touch -d '1 hour ago' "$T/msgs/message_bad.json"
python3 tests/http_fake.py --port-file "$T/fake.port" --log "$T/fake.log" 2>"$T/fake.err" &
FAKE=$!
wait_for 10 test -s "$T/fake.port" || fail "the fake device did not start"
D=http://127.0.0.1:$(cat "$T/fake.port")
# And an MQTT source, if there is a broker to run: its thread, libmosquitto,
# a good message and a bad one, the reload.
MQ=
if mqtt_have && mqtt_start; then
	MQ="[mqtt.vgmqtt]
port             = $MQTT_PORT
topics           = home/pico/+
name_key         = measurement
tag_keys         = host"
fi
# Modbus: three TCP devices (good, exception 2, silent), a PowMr on a pty,
# an EG4 dongle that answers every read.
MBPORT=$(free_ports 3)
[ -n "$MBPORT" ] || fail "no 3 free ports in a row"
"$B/tests/modbus_server" --port "$MBPORT" --count 3 --behave 1=exception:2 --behave 2=silent \
	--ready "$T/mb.ready" 2>"$T/mb.log" &
MB=$!
python3 tests/rtu_server.py --link "$T/tty" --baud 19200 --unit 5 --byteswap \
	--ready "$T/rtu.ready" --stats "$T/rtu.json" 2>"$T/rtu.log" &
RTU=$!
EGPORT=$(free_port)
python3 tests/eg4_dongle.py steady "$EGPORT" "$T/eg4.log" "$T/eg4.done" 2>"$T/eg4.err" &
EG4=$!
wait_for 10 test -s "$T/mb.ready" || fail "modbus_server did not start: $(cat "$T/mb.log")"
wait_for 10 test -e "$T/rtu.ready" || fail "rtu_server did not start: $(cat "$T/rtu.log")"
wait_for 10 test -e "$T/eg4.done.ready" || fail "eg4_dongle did not start: $(cat "$T/eg4.err")"
printf 'id m holding 0 u16\nx m input 10 i32 order=cdab scale=0.01\n' >"$T/vg.map"
MODBUS=""
for i in 0 1 2; do
	MODBUS="$MODBUS
[modbus.vgmb$i]
url              = tcp://127.0.0.1:$((MBPORT + i))
map              = $T/vg.map
interval         = 300ms
timeout          = 200ms
retries          = 0"
done
PORT=$(free_port)
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$PORT
socket    = $T/powerd.sock
[pulse.vg]
replay           = $T/trace.txt
speed            = 0
impulses_per_kwh = 1000
[json.vgjson]
path             = $T/msgs
after            = move
valid            = der_memory.used > 0
derive           = der_memory.total = der_memory.used + der_memory.free
integrate        = der_os.load -> load_wh
[http.vggood]
url              = $D/good
interval         = 200ms
format           = flat
[http.vgcut]
url              = $D/cut
interval         = 200ms
[http.vghang]
url              = $D/hang
interval         = 200ms
timeout          = 20s
[can.vgcan]
replay           = $PWD/tests/fixtures/can/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log
speed            = 0
decode           = $PWD/share/ecoflow.json
record           = $T/frames.log
record_max       = 64KiB
$MQ
$MODBUS
[modbus.vgrtu]
url              = rtu://$T/tty
baud             = 19200
map              = powmr-lvm
interval         = 300ms
[eg4.vgeg4]
host             = 127.0.0.1
port             = $EGPORT
datalog          = 2222222222
poll             = 1s
[sink.lp]
type             = file
path             = $T/samples.lp
EOC
$VG "$B/powerd" -c "$T/powerd.conf" 2>"$T/powerd.log" &
PID=$!
wait_for 60 curl -fsS "http://127.0.0.1:$PORT/metrics" || { cat "$T/powerd.log"; fail "no /metrics"; }
curl -fsS "http://127.0.0.1:$PORT/api/status" >/dev/null || fail "/api/status"
curl -fsS "http://127.0.0.1:$PORT/" >/dev/null || fail "/"
curl -s "http://127.0.0.1:$PORT/nope" >/dev/null
$VG "$B/powerctl" -s "$T/powerd.sock" status >/dev/null 2>"$T/ctl.err" || { cat "$T/ctl.err"; fail "powerctl"; }
TZ=UTC python3 tools/genpp1.py "$T/msgs" --files 3 --start $(($(date +%s) - 600)) >/dev/null
moved() { [ "$(ls "$T/msgs/done" 2>/dev/null | wc -l)" = 53 ]; }
wait_for 60 moved || fail "JSON files under valgrind: $(ls "$T/msgs/done" | wc -l) of 53 in done/"
[ -f "$T/msgs/failed/message_bad.json" ] || fail "the bad JSON file is not in failed/"
canned() { [ "$(metric 'powerd_can_records_decoded_total{source="vgcan"}' "http://127.0.0.1:$PORT/metrics")" = 96 ]; }
wait_for 60 canned || fail "the CAN replay under valgrind"
printf '(1.000000) can0 123#11\n' >"$T/event.log"
# refused (exit 1), and clean (valgrind's errors exit 99)
$VG "$B/powerctl" -s "$T/powerd.sock" can send vgcan "$T/event.log" >/dev/null 2>"$T/ctl.err"
rc=$?
[ $rc -eq 1 ] || { cat "$T/ctl.err"; fail "powerctl can send under valgrind: exit $rc"; }
polled() { [ "$(metric 'powerd_source_samples_total{source="vggood",kind="http"}' "http://127.0.0.1:$PORT/metrics")" -gt 0 ]; }
wait_for 30 polled || fail "no HTTP samples under valgrind"
if [ -n "$MQ" ]; then
	mqup() { curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -q '^powerd_source_up{source="vgmqtt",kind="mqtt"} 1$'; }
	wait_for 60 mqup || fail "the MQTT source did not subscribe under valgrind"
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t home/pico/1 -m 'not json'
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t home/pico/1 \
		-m '{"power": "12.5", "measurement": "vgpico", "host": "p"}'
	mqgot() { grep -q '^vgpico,host=p power=12.5 ' "$T/samples.lp"; }
	wait_for 60 mqgot || fail "no MQTT sample under valgrind"
fi
for sk in vgmb0:modbus vgrtu:modbus vgeg4:eg4; do
	got() { [ "$(metric "powerd_source_samples_total{source=\"${sk%%:*}\",kind=\"${sk#*:}\"}" "http://127.0.0.1:$PORT/metrics")" -gt 0 ] 2>/dev/null; }
	wait_for 60 got || fail "no samples from ${sk%%:*} under valgrind: $(curl -s "http://127.0.0.1:$PORT/metrics" | grep "source=\"${sk%%:*}\"" | head -5)"
done
exc() { [ "$(metric 'powerd_modbus_exceptions_total{source="vgmb1",code="2"}' "http://127.0.0.1:$PORT/metrics")" -gt 0 ] 2>/dev/null; }
wait_for 30 exc || fail "the exception device under valgrind"
kill -HUP $PID
# A reload under memcheck on a loaded machine takes its time: the HTTP
# server is back when it is done.
sleep 1
wait_for 60 curl -fsS -o /dev/null "http://127.0.0.1:$PORT/metrics" || fail "/metrics after reload"
kill -TERM $PID
wait $PID
rc=$?
PID=
[ $rc -eq 0 ] || { grep -v "^powerd: " "$T/powerd.log" | head -60; fail "powerd under valgrind exited $rc"; }
echo "ok: valgrind clean"
