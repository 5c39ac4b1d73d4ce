#!/bin/bash
# `powerd --check` on every sample configuration (ASan build): each
# tests/config/bad_*.conf must exit 2 and print exactly the errors its
# "# expect: LINE: TEXT" comments list, as "FILE:LINE: ...TEXT..."; the good
# ones and the examples must exit 0 and print nothing; a missing file exits 2.
# `powerd --defaults` prints a file that --check passes as it is, and once
# uncommented the way a user would (one of each alternative, real paths).
set -u
B=${1:-build}
POWERD=$B/asan/powerd
if [ ! -x "$POWERD" ]; then
	echo "skip: $POWERD not built"
	exit 77
fi
fails=0
nbad=0
out=$(mktemp)
T=$(mktemp -d)
trap 'rm -rf "$out" "$T"' EXIT

# Error lines about file $1: "FILE:LINE: ..."
errors() {
	grep -E "^${1//./\\.}:[0-9]+: " "$out"
}

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

for f in tests/config/bad_*.conf; do
	nbad=$((nbad + 1))
	"$POWERD" --check -c "$f" >"$out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "$f: exit $rc, want 2"
	want=$(grep -c '^# expect: ' "$f")
	[ "$want" -gt 0 ] || fail "$f: no '# expect: LINE: TEXT' comment"
	while IFS= read -r exp; do
		line=${exp%%:*}
		text=${exp#*: }
		grep -F -- "$f:$line: " "$out" | grep -qF -- "$text" ||
			fail "$f: no '$f:$line: ...$text...' in: $(cat "$out")"
	done < <(sed -n 's/^# expect: //p' "$f")
	got=$(errors "$f" | wc -l)
	[ "$got" -eq "$want" ] || fail "$f: $got error lines, want $want: $(cat "$out")"
done
[ $nbad -ge 10 ] || fail "only $nbad bad sample configurations"

for f in tests/config/good_*.conf examples/powerd.conf examples/demo.conf; do
	if [ ! -e "$f" ]; then
		[ "$f" = examples/demo.conf ] && continue
		fail "$f missing"
		continue
	fi
	"$POWERD" --check -c "$f" >"$out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "$f: exit $rc, want 0: $(cat "$out")"
	! errors "$f" >/dev/null || fail "$f: unexpected errors: $(cat "$out")"
done

missing=tests/config/does-not-exist.conf
"$POWERD" --check -c "$missing" >"$out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "$missing: exit $rc, want 2"
grep -qF "$missing: cannot open: No such file or directory" "$out" ||
	fail "$missing: no 'cannot open' message: $(cat "$out")"

"$POWERD" --help | grep -q -- '--defaults' || fail "--help does not mention --defaults"
"$POWERD" --defaults >"$T/defaults.conf" 2>"$out"
rc=$?
[ $rc -eq 0 ] || fail "--defaults: exit $rc: $(cat "$out")"
[ -s "$out" ] && fail "--defaults wrote to stderr: $(cat "$out")"
grep -q '^;\[sink\.cloudwatch\]$' "$T/defaults.conf" || fail "--defaults: no [sink.cloudwatch]"
grep -q '^;\[json\.inbox\]$' "$T/defaults.conf" || fail "--defaults: no [json.NAME]"
"$POWERD" --check -c "$T/defaults.conf" >"$out" 2>&1 ||
	fail "--defaults as printed does not pass --check: $(cat "$out")"

# uncomment SKIP... SET...: every header and key line of --defaults, but the
# keys named "[section] key" in SKIP; SET is "[section] key value".
uncomment() {
	awk -v skip="$1" -v set="$2" '
	BEGIN { ns = split(skip, s, ","); for (i = 1; i <= ns; i++) sk[s[i]] = 1
		nv = split(set, v, ","); for (i = 1; i <= nv; i++) {
			j = index(v[i], "="); sv[substr(v[i], 1, j - 1)] = substr(v[i], j + 1) } }
	/^;?\[/ { sub(/^;/, ""); title = $0; sub(/].*/, "]", title); print; next }
	/^;[a-z_]+ *=/ {
		key = substr($0, 2); sub(/ *=.*/, "", key)
		if ((title " " key) in sk) { print; next }
		if ((title " " key) in sv) { print key " = " sv[title " " key]; next }
		print substr($0, 2); next }
	{ print }' "$T/defaults.conf"
}
touch "$T/ca.pem" "$T/credentials" "$T/trace.txt"
mkdir "$T/inbox"
paths="[daemon] state_dir=$T/state,[daemon] socket=$T/run/powerd.sock,[daemon] listen=off"
paths="$paths,[sink.influxdb] ca_file=$T/ca.pem,[sink.mqtt] ca_file=$T/ca.pem"
paths="$paths,[sink.file] path=$T/out/samples.lp,[sink.cloudwatch] credentials_file=$T/credentials"
paths="$paths,[json.inbox] path=$T/inbox,[http.powmr] ca_file=$T/ca.pem"
paths="$paths,[can.battery] decode=$PWD/share/ecoflow.json,[can.battery] record=$T/out/frames.log"
uncomment "[pulse.house] replay,[pulse.house] speed,[pulse.house] loop,[pulse.house] min_pulse,[sink.influxdb] org,[sink.influxdb] bucket,[sink.influxdb] token,[sink.mqtt] pico_host,[json.inbox] measurement,[http.powmr] measurement,[can.battery] replay,[can.battery] speed,[can.battery] loop,[can.battery] bitrate,[can.battery] restart_ms,[modbus.inverter] close_after_poll,[modbus.inverter] connect_timeout,[modbus.inverter] pipeline,[modbus.inverter] rs485_delay_before,[modbus.inverter] rs485_delay_after" \
	"$paths" >"$T/gpio.conf"
"$POWERD" --check -c "$T/gpio.conf" >"$out" 2>&1 ||
	fail "--defaults uncommented (GPIO meter, InfluxDB 1.x): $(cat "$out")"
grep -q '1 meter, 1 JSON directory, 1 HTTP poll, 1 MQTT subscription, 1 CAN bus, 1 Modbus device, 1 EG4 dongle, 4 sinks' "$out" || fail "--defaults uncommented: $(cat "$out")"
uncomment "[pulse.house] chip,[pulse.house] line,[pulse.house] min_pulse_ms,[sink.influxdb] database,[sink.influxdb] retention_policy,[sink.influxdb] username,[sink.influxdb] password,[can.battery] interface,[can.battery] bitrate,[can.battery] restart_ms,[modbus.inverter] baud,[modbus.inverter] parity,[modbus.inverter] data_bits,[modbus.inverter] stop_bits,[modbus.inverter] rs485,[modbus.inverter] rs485_delay_before,[modbus.inverter] rs485_delay_after" \
	"$paths,[modbus.inverter] url=tcp://192.168.1.50:502,[pulse.house] replay=$T/trace.txt,[can.battery] replay=$T/trace.txt,[sink.mqtt] format=pico,[json.inbox] format=flat,[http.powmr] format=flat" \
	>"$T/replay.conf"
"$POWERD" --check -c "$T/replay.conf" >"$out" 2>&1 ||
	fail "--defaults uncommented (replay, InfluxDB 2.x, pico, flat JSON): $(cat "$out")"

[ $fails -eq 0 ] || exit 1
echo "ok: $nbad bad and the good configurations, --defaults"
