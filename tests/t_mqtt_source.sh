#!/bin/bash
# [mqtt.NAME] against Mosquitto and InfluxDB 1.6 on loopback: the Pico
# meters' messages (seed 001: power as a string and as a number, timestamp in
# Unix seconds) read as Telegraf's mqtt_consumer would and stored as
# `NAME,host=HOST power=FLOAT TIMESTAMP`; the PowMr dongle's JSON (seed 003)
# as flat samples; QoS 1 with a persistent session: what is published while
# powerd is stopped arrives once it is back, every message exactly once;
# malformed payloads (not JSON, over max_size, wrong types, 10,000 levels
# deep) counted by reason and survived; the broker restarted (persistence on)
# mid-run: the source reconnects and gets what was published meanwhile;
# powerd killed (-9) once all is spooled: its session still gets what follows.
#   tests/t_mqtt_source.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_mqtt.sh
. tests/lib_servers.sh
. tests/faults/lib.sh
mqtt_have || { echo "mosquitto / mosquitto-clients not installed"; exit 77; }
command -v influxd >/dev/null || { echo "influxdb not installed"; exit 77; }
PD=${PD:-$B/asan/powerd}
[ -x "$PD" ] || PD=$B/powerd

T=$(mktemp -d /tmp/powerd-mqtt-src-XXXXXX)
PID=
cleanup() {
	fault_cleanup
	servers_stop
	mqtt_cleanup
}
trap cleanup EXIT

mqtt_start "persistence true" "persistence_location $T/" "autosave_interval 1" ||
	fail "cannot start mosquitto"
influx_start "$T/influx" || fail "InfluxDB did not start"
INFLUX_DB=mq
influx_query "CREATE DATABASE mq" >/dev/null || fail "CREATE DATABASE"

port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock

[mqtt.pico]
host        = 127.0.0.1
port        = $MQTT_PORT
topics      = home/pico/+
format      = telegraf
name_key    = measurement
time_key    = timestamp
time_format = unix
tag_keys    = host

[mqtt.powmr]
host      = 127.0.0.1
port      = $MQTT_PORT
topics    = powmr/inverter/status, powmr/inverter/extra
format    = flat
topic_tag = topic

[mqtt.nobroker]
port   = $(free_port)
topics = x/#

[sink.influx]
type           = influxdb
url            = $INFLUX_URL
database       = mq
flush_interval = 200ms

[sink.file]
type           = file
path           = $T/out.lp
flush_interval = 200ms
EOC

m() { metric "$1" "$URL/metrics"; }
e() { m "powerd_source_errors_total{source=\"$1\",kind=\"mqtt\",reason=\"$2\"}"; }
up() { [ "$(m "powerd_source_up{source=\"$1\",kind=\"mqtt\"}")" = 1 ]; }
lines() { grep -c "$1" "$T/out.lp" 2>/dev/null || echo 0; }
pub() { mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -i "pub-$$" "$@"; }

T0=1773500000
N=0 # Pico messages published so far
# pico I: power as a string for even I, a number for odd; two hosts, two names.
pico() {
	local i=$1 name host power
	name=$([ $((i % 2)) = 0 ] && echo house || echo garage)
	host=pico$((i % 3))
	if [ $((i % 2)) = 0 ]; then power="\"$i.5\""; else power=$((100 + i)); fi
	pub -t "home/pico/$host" \
		-m "{\"power\": $power, \"timestamp\": \"$((T0 + i))\", \"measurement\": \"$name\", \"host\": \"$host\"}" ||
		fail "mosquitto_pub"
	N=$((N + 1))
}
P=0 # PowMr messages
powmr() {
	local topic=$1
	pub -t "powmr/inverter/$topic" -m "{\"ac\":{\"output_watts\":$((300 + P)),\"output_voltage\":121.5},\"dc\":{\"pv_power\":0,\"batt_v\":26.4},\"inverter\":{\"valid_info\":1,\"mode\":\"line\"}}" ||
		fail "mosquitto_pub"
	P=$((P + 1))
}

# ---- first run: the sessions are made -----------------------------------------
pd_start "$T/powerd.conf" "$T/powerd.log"
{ wait_for 15 up pico && wait_for 15 up powmr; } || fail "not subscribed: $(tail -5 "$T/powerd.log")"
for i in $(seq 0 19); do pico "$i"; done
for _ in 1 2 3; do powmr status; done
powmr extra
have() { [ "$(lines ' power=')" -ge "$N" ] && [ "$(lines '^inverter,')" -ge "$P" ]; }
wait_for 20 have || fail "first run: $(lines ' power=') of $N Pico, $(lines '^inverter,') of $P PowMr"
# The status: the working one's broker and messages, the other's error.
curl -fsS "$URL/api/status" >"$T/status.json" || fail "/api/status"
python3 - "$T/status.json" <<'EOF2' || fail "status: $(cat "$T/status.json")"
import json, sys
src = {s["name"]: s for s in json.load(open(sys.argv[1]))["sources"]}
p, n = src["pico"], src["nobroker"]
assert p["kind"] == "mqtt" and p["state"] == "ok", p
assert "broker 127.0.0.1:" in p["detail"] and "20 messages (0 refused), last " in p["detail"], p
assert n["state"] == "error" and "cannot connect to 127.0.0.1:" in n["detail"], n
EOF2
pd_stop TERM

# ---- while powerd is stopped: the broker queues -------------------------------
for i in $(seq 20 29); do pico "$i"; done
powmr status
powmr extra
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_for 20 have || fail "after the restart: $(lines ' power=') of $N Pico, $(lines '^inverter,') of $P PowMr"

# ---- malformed payloads: counted, survived ------------------------------------
pub -t home/pico/bad -m 'this is not JSON'
pub -t home/pico/bad -n # an empty message
python3 -c 'import sys; sys.stdout.write("{\"power\": \"" + "x" * 1100000 + "\"}")' >"$T/big.json"
pub -t home/pico/bad -f "$T/big.json"
pub -t home/pico/bad -m '{"power": "high", "measurement": "house", "host": "pico1"}'
pub -t home/pico/bad -m '{"power": 1, "timestamp": "yesterday"}'
pub -t powmr/inverter/status -m '{"ac": {"output_watts": [1, 2]}}'
python3 -c 'import sys; sys.stdout.write("[" * 10000 + "]" * 10000)' >"$T/deep.json"
pub -t home/pico/bad -f "$T/deep.json"
pico 30 # a good one after them
wait_for 10 have || fail "the good message after the bad ones did not arrive"
for r in pico:not_json:3 pico:too_large:1 pico:no_fields:1 pico:bad_time:1 powmr:bad_field:1; do
	IFS=: read -r s reason want <<<"$r"
	[ "$(e "$s" "$reason")" = "$want" ] || fail "$s $reason: $(e "$s" "$reason") (want $want)"
done
kill -0 "$PID" || fail "powerd died"

# ---- the broker restarted: reconnect, and what it queued meanwhile -------------
mqtt_stop TERM
sleep 0.5
mqtt_restart || fail "mosquitto did not come back"
for i in $(seq 31 35); do pico "$i"; done # before powerd reconnects (backoff)
powmr status
wait_for 30 have || fail "after the broker restart: $(lines ' power=') of $N Pico"
[ "$(grep -c "mqtt pico: connected .*session resumed" "$T/powerd.log")" -ge 2 ] ||
	fail "no resumed session after the restarts: $(grep 'mqtt pico' "$T/powerd.log")"
grep -q "mqtt pico: connection to 127.0.0.1:$MQTT_PORT lost" "$T/powerd.log" ||
	fail "the broker's restart went unnoticed: $(grep 'mqtt pico' "$T/powerd.log")"

# ---- kill -9 once everything is spooled: the session survives it ---------------
# Until now (clean stops, a broker restart): every sample exactly once.
sleep 1
[ "$(lines ' power=')" = "$N" ] || fail "$(lines ' power=') Pico samples before the kill, want $N"
[ "$(lines '^inverter,')" = "$P" ] || fail "$(lines '^inverter,') PowMr samples before the kill, want $P"
pd_stop KILL
for i in $(seq 36 39); do pico "$i"; done
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_for 20 have || fail "after kill -9: $(lines ' power=') of $N Pico"
sleep 1 # anything extra would show now
pd_stop TERM
sanitizer_clean "$T/powerd.log"

# ---- every message exactly once ------------------------------------------------
# Each once from MQTT.  The file sink itself sends its last spooled batch
# again after the kill -9 (its spool's delivery mark lags: "from the spool to
# send first"), so duplicates may only be of samples from before the kill.
ulines() { sort -u "$T/out.lp" | grep -c "$1"; }
[ "$(ulines ' power=')" = "$N" ] || fail "$(ulines ' power=') distinct Pico samples in the file, want $N"
sort "$T/out.lp" | uniq -d >"$T/dups"
for i in $(seq 36 39); do
	! grep -q " $(((T0 + i) * 1000000000))\$" "$T/dups" || fail "message $i (after the kill) twice"
done
[ "$(ulines '^inverter,')" = "$P" ] || fail "$(ulines '^inverter,') PowMr samples, want $P"
grep -qx "garage,host=pico1 power=101 $(((T0 + 1) * 1000000000))" "$T/out.lp" ||
	fail "Pico line: $(grep garage "$T/out.lp" | head -2)"
grep -qx "house,host=pico0 power=0.5 $((T0 * 1000000000))" "$T/out.lp" ||
	fail "Pico line (power as a string): $(grep house "$T/out.lp" | head -2)"
grep -q " power=[0-9.]*i" "$T/out.lp" && fail "an integer power: $(grep -m1 " power=[0-9.]*i" "$T/out.lp")"
grep -q '^ac,topic=powmr/inverter/extra output_watts=' "$T/out.lp" ||
	fail "no PowMr sample with its topic tag: $(grep '^ac' "$T/out.lp" | head -2)"

# ---- in InfluxDB as Telegraf would have written them ---------------------------
influx_query 'SELECT * FROM "house", "garage"' >"$T/pico.json" || fail "query"
influx_query 'SHOW FIELD KEYS FROM "house"' >"$T/fk.json" || fail "query"
influx_query 'SHOW TAG KEYS FROM "house", "garage"' >"$T/tk.json" || fail "query"
python3 - "$T/pico.json" "$T/fk.json" "$T/tk.json" "$N" "$T0" <<'EOF' || fail "InfluxDB: $(head -c 600 "$T/pico.json")"
import json, sys
res, fk, tk, n, t0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
got = {}
for s in json.load(open(res))["results"][0]["series"]:
    cols = s["columns"]
    assert cols == ["time", "host", "power"], cols
    for row in s["values"]:
        r = dict(zip(cols, row))
        got[(s["name"], r["time"])] = (r["host"], r["power"])
assert len(got) == n, (len(got), n)
for i in range(n):
    name = "house" if i % 2 == 0 else "garage"
    host = "pico%d" % (i % 3)
    power = float("%d.5" % i) if i % 2 == 0 else float(100 + i)
    v = got[(name, (t0 + i) * 10**9)]
    assert v == (host, power), (i, v)  # JSON writes 101.0 as 101: the field keys say float
f = json.load(open(fk))["results"][0]["series"][0]["values"]
assert f == [["power", "float"]], f
for s in json.load(open(tk))["results"][0]["series"]:
    assert s["values"] == [["host"]], s
EOF
influx_query 'SELECT count(output_watts) FROM "ac"' >"$T/ac.json" || fail "query"
python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["results"][0]["series"][0]["values"][0][1]; assert v == int(sys.argv[2]), v' \
	"$T/ac.json" "$P" || fail "PowMr in InfluxDB: $(cat "$T/ac.json")"
echo "OK: $N Pico and $P PowMr messages, each once, across a powerd stop, a broker restart and a kill -9 ($(grep -c . "$T/dups") samples resent by the file sink's spool after it)"
