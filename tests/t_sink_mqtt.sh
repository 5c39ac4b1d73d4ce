#!/bin/bash
# The MQTT sink against Mosquitto (Debian mosquitto, mosquitto-clients) on
# loopback: JSON payloads, the Pico meter's shape byte for byte, Home
# Assistant discovery, the retained status and the last will, password
# authentication, TLS verification, a broker that is down or goes away, and
# (with a fake broker) a connection lost mid-batch and missing PUBACKs.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_mqtt.sh

mqtt_have || {
	echo "mosquitto / mosquitto-clients not installed (apt-get install mosquitto mosquitto-clients)"
	exit 77
}
P=$B/asan/tests/test_sink_mqtt
[ -x "$P" ] || P=$B/tests/test_sink_mqtt
[ -x "$P" ] || fail "$P not built (make unit)"

T=$(mktemp -d)
FAKE_PID=
HOLD_PID=
cleanup() {
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	mqtt_cleanup
	rm -rf "$T"
}
trap cleanup EXIT

# prog NAME MODE [VAR=VALUE...]: run the test program, output in $T/NAME.
prog() {
	local name=$1 mode=$2
	shift 2
	env "$@" timeout 60 "$P" "$mode" >"$T/$name.out" 2>"$T/$name.err"
}

# sub_wait: the background subscriber's exit (it has -C and -W limits).
sub_wait() {
	wait "$MQTT_SUB_PID"
	MQTT_SUB_PID=
}

pyjson() { # FILE PYTHON [ARG...]: lines "topic payload" -> m = [(topic, payload)]
	local file=$1 code=$2
	shift 2
	python3 -c '
import json, sys
m = []
for line in open(sys.argv[1]):
    t, _, p = line.rstrip("\n").partition(" ")
    m.append((t, json.loads(p) if p.startswith("{") else p))
exec(sys.argv[2])' "$file" "$code" "$@"
}

mqtt_start || fail "cannot start mosquitto"
HOST=$(hostname)
NODE=$(python3 -c 'import re,sys; print(re.sub("[^a-zA-Z0-9_-]", "_", "powerd_" + sys.argv[1]))' "$HOST")
VERSION=$(sed -n 's/^VERSION[ :?]*= *//p' Makefile | head -1)

# ---- json: every sample, fields typed, topic levels sanitized ---------------
mqtt_sub "$T/json.sub" sub-json -t 'tj/pulse/#' -C 5 -W 15 || fail "subscriber"
prog json json MQTT_PREFIX=tj || fail "json mode: $(cat "$T/json.out" "$T/json.err")"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t tj/pulse/zz -m end
sub_wait
EXPECT='tj/pulse/house {"measurement":"pulse","tags":{"meter":"house"},"time":1700000000.123456789,"fields":{"power_w":123.4,"energy_wh":5.0,"interval_s":1.2}}'
[ "$(head -1 "$T/json.sub")" = "$EXPECT" ] || fail "json payload: $(head -1 "$T/json.sub")"
pyjson "$T/json.sub" '
assert [t for t, _ in m] == ["tj/pulse/house", "tj/pulse/garage", "tj/pulse/a_b_c_d", "tj/pulse/nan", "tj/pulse/zz"], m
h = m[0][1]
assert h["measurement"] == "pulse" and h["tags"] == {"meter": "house"}, h
assert h["fields"] == {"power_w": 123.4, "energy_wh": 5.0, "interval_s": 1.2}, h
assert isinstance(h["fields"]["energy_wh"], float) and abs(h["time"] - 1700000000.123456789) < 1e-6
g = m[1][1]
assert g["tags"] == {"meter": "garage", "phase": "L1"} and g["fields"]["count"] == -42, g
assert isinstance(g["fields"]["count"], int) and isinstance(g["fields"]["power_w"], float), g
w = m[2][1]
assert w["tags"]["meter"] == "a/b+c#d" and w["fields"]["note"] == "say \"hi\"\\\n\x01", w
assert w["fields"]["ok"] is True and w["fields"]["power_w"] == 1e-7, w
assert m[3][1]["fields"] == {"energy_wh": 7.25}, m[3]   # NaN left out
assert m[4][1] == "end"   # the all-infinite sample was not sent
' || fail "json messages: $(cat "$T/json.sub")"
echo "json: ok"

# ---- wide: one sample of 16 tags and 128 fields, every one in the message ---
mqtt_sub "$T/wide.sub" sub-wide -t 'tw/wide/#' -C 1 -W 15 || fail "subscriber"
prog wide wide MQTT_PREFIX=tw || fail "wide mode: $(cat "$T/wide.out" "$T/wide.err")"
sub_wait
pyjson "$T/wide.sub" '
assert len(m) == 1, m
w = m[0][1]
assert m[0][0] == "tw/wide/value_0" and w["tags"] == {"tag%02d" % i: "value_%d" % i for i in range(16)}, m[0][0]
want = {}
for i in range(128):
    want["f%03d" % i] = [i + 0.5, i, i % 8 == 2, "s%d" % i][i % 4]
assert w["fields"] == want, w["fields"]
assert all(type(w["fields"][k]) is type(v) for k, v in want.items()), w["fields"]
' || fail "wide message: $(cat "$T/wide.sub")"
echo "wide: ok"

# ---- pico: the Pico meter's shape, byte for byte ---------------------------
mqtt_sub "$T/pico.sub" sub-pico -t 'tp/meters/+/+' -t tp/zz -C 4 -W 15 || fail "subscriber"
prog pico pico MQTT_PREFIX=tp/meters MQTT_PICO_HOST=pico-test ||
	fail "pico mode: $(cat "$T/pico.out" "$T/pico.err")"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t tp/zz -m end
sub_wait
cat >"$T/pico.want" <<'EOF'
tp/meters/pulse/house {"power":123.4,"timestamp":1700000000,"measurement":"pulse","host":"pico-test"}
tp/meters/pulse/house {"power":0.0,"timestamp":1700000010,"measurement":"pulse","host":"pico-test"}
tp/meters/grid/main {"power":2500,"timestamp":1700000012,"measurement":"grid","host":"pico-test"}
tp/zz end
EOF
cmp -s "$T/pico.want" "$T/pico.sub" ||
	fail "pico payloads differ: $(diff "$T/pico.want" "$T/pico.sub")"
echo "pico: ok"

# ---- Home Assistant discovery ----------------------------------------------
mqtt_sub "$T/ha-live.sub" sub-ha-live -t 'hatest/#' -C 5 -W 15 || fail "subscriber"
prog ha ha MQTT_PREFIX=th MQTT_HA_PREFIX=hatest || fail "ha mode: $(cat "$T/ha.out" "$T/ha.err")"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t hatest/zz -m end
sub_wait
# Announced once, not at every sample: the daemon's and three configs, then
# the marker.
if [ "$(cut -d' ' -f1 "$T/ha-live.sub" | sort -u | wc -l)" != 5 ] ||
	[ "$(tail -1 "$T/ha-live.sub")" != "hatest/zz end" ]; then
	fail "discovery published more than once per sensor: $(cut -d' ' -f1 "$T/ha-live.sub")"
fi
# The configs are retained: a new subscriber gets all of them, then the
# (non-retained) marker ends --retained-only.
mqtt_sub "$T/ha.sub" sub-ha -t 'hatest/#' --retained-only -W 15 || fail "subscriber"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t hatest/zz -m end
sub_wait
pyjson "$T/ha.sub" '
import re
host, node = sys.argv[3], sys.argv[4]
c = {t: p for t, p in m}
base = "hatest/sensor/%s/pulse_house_%%s/config" % node
d = "hatest/binary_sensor/%s/status/config" % node
assert sorted(c) == sorted([d] + [base % f for f in ("power_w", "energy_wh", "interval_s")]), sorted(c)
assert c[d]["device"]["identifiers"] == [node] and c[d]["device"]["name"] == "powerd " + host, c[d]
p, e, i = (c[base % f] for f in ("power_w", "energy_wh", "interval_s"))
for x in (p, e, i):
    assert x["state_topic"] == "th/pulse/house", x
    assert x["availability"] == [{"topic": "th/status"}, {"topic": "th/availability/house"}], x
    assert x["availability_mode"] == "all" and "expire_after" not in x, x
    assert x["payload_available"] == "online" and x["payload_not_available"] == "offline", x
    assert x["device"]["identifiers"] == [node + "_house"] and x["device"]["name"] == "house", x
    assert x["device"]["via_device"] == node and x["device"]["manufacturer"] == "powerd", x
assert (p["name"], e["name"], i["name"]) == ("Power", "Energy", "Interval"), (p, e, i)
assert p["unique_id"] == node + "_pulse_house_power_w", p
assert p["value_template"] == "{{ value_json.fields.power_w }}", p
assert (p["device_class"], p["unit_of_measurement"], p["state_class"]) == ("power", "W", "measurement"), p
assert e["unique_id"] == node + "_pulse_house_energy_wh", e
assert e["value_template"] == "{{ value_json.fields.energy_wh / 1000 }}", e
assert (e["device_class"], e["unit_of_measurement"], e["state_class"]) == ("energy", "kWh", "total_increasing"), e
assert (i["device_class"], i["unit_of_measurement"]) == ("duration", "s"), i
' "$HOST" "$NODE" || fail "discovery configs: $(cat "$T/ha.sub")"
echo "ha: ok"

# ---- Home Assistant: four kinds of source, one goes stale and comes back ----
# A pulse meter, a Modbus inverter (powmr-lvm's fields and units), an EcoFlow
# battery on CAN, an EG4 inverter (eg4-input's); ha_expire_after = 30 s, so
# the battery, absent from the batch a minute later, is offline, and online
# again with its next sample.  The daemon's own status ends the live log.
mqtt_sub "$T/ha2-live.sub" sub-ha2-live -t 'th2/availability/#' -t th2/status -C 8 -W 20 ||
	fail "subscriber"
prog ha2 ha2 MQTT_PREFIX=th2 MQTT_HA_PREFIX=ha2 MQTT_HA_EXPIRE_S=30 \
	MQTT_HA_NAMES='eg4.soc=EG4 battery, nothing=Nothing' ||
	fail "ha2 mode: $(cat "$T/ha2.out" "$T/ha2.err")"
sub_wait
cat >"$T/ha2-live.want" <<'EOF'
th2/status online
th2/availability/house online
th2/availability/powmr online
th2/availability/battery online
th2/availability/eg4 online
th2/availability/battery offline
th2/availability/battery online
th2/status offline
EOF
cmp -s "$T/ha2-live.want" "$T/ha2-live.sub" ||
	fail "availability: $(diff "$T/ha2-live.want" "$T/ha2-live.sub")"
mqtt_sub "$T/ha2.sub" sub-ha2 -t 'ha2/#' --retained-only -W 15 || fail "subscriber"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t ha2/zz -m end
sub_wait
pyjson "$T/ha2.sub" '
host, node, ver = sys.argv[3], sys.argv[4], sys.argv[5]
c = {t: p for t, p in m}
def want(obj, name, src, field, cls, unit, sc):
    x = {"name": name, "unique_id": "%s_%s" % (node, obj),
         "state_topic": "th2/%s" % "/".join(obj.split("_")[:2]),
         "value_template": "{{ value_json.fields.%s }}" % field}
    if cls:
        x["device_class"] = cls
    if unit:
        x["unit_of_measurement"] = unit
    x.update({"state_class": sc, "expire_after": 30,
              "availability": [{"topic": "th2/status"}, {"topic": "th2/availability/" + src}],
              "availability_mode": "all", "payload_available": "online",
              "payload_not_available": "offline",
              "device": {"identifiers": [node + "_" + src], "name": src, "manufacturer": "powerd",
                         "model": "powerd " + ("meter" if src == "house" else "source"),
                         "sw_version": ver, "via_device": node}})
    got = c["ha2/sensor/%s/%s/config" % (node, obj)]
    assert got == x and list(got) == list(x), "%s:\n got %s\nwant %s" % (obj, got, x)
# Exact JSON, keys in order: a meter field, Modbus fields with their map units,
# CAN (EcoFlow) fields by their names, EG4 fields by its map, a name override.
want("pulse_house_power_w", "Power", "house", "power_w", "power", "W", "measurement")
want("dc_powmr_voltage", "DC voltage", "powmr", "voltage", "voltage", "V", "measurement")
want("dc_powmr_pv_power", "DC PV power", "powmr", "pv_power", "power", "W", "measurement")
want("ac_powmr_input_freq", "AC input freq", "powmr", "input_freq", "frequency", "Hz", "measurement")
want("ac_powmr_output_va", "AC output VA", "powmr", "output_va", "apparent_power", "VA", "measurement")
want("ecoflow_battery_soc_pct", "Ecoflow battery SOC", "battery", "soc_pct", "battery", "%", "measurement")
want("ecoflow_battery_temp1_c", "Ecoflow temp1", "battery", "temp1_c", "temperature", "°C", "measurement")
want("eg4_eg4_soc", "EG4 battery", "eg4", "soc", "battery", "%", "measurement")
want("eg4_eg4_e_pv_all_1", "EG4 e PV all 1", "eg4", "e_pv_all_1", "energy", "kWh", "total_increasing")
want("eg4_eg4_t_inner", "EG4 t inner", "eg4", "t_inner", "temperature", "°C", "measurement")
want("eg4_eg4_internal_fault", "EG4 internal fault", "eg4", "internal_fault", None, None, "measurement")
d = c["ha2/binary_sensor/%s/status/config" % node]
assert d == {"name": "Status", "unique_id": node + "_status", "state_topic": "th2/status",
             "payload_on": "online", "payload_off": "offline", "device_class": "connectivity",
             "entity_category": "diagnostic",
             "device": {"identifiers": [node], "name": "powerd " + host, "manufacturer": "powerd",
                        "model": "powerd", "sw_version": ver}}, d
assert len([t for t in c if t.endswith("/config")]) == 14, sorted(c)
' "$HOST" "$NODE" "$VERSION" || fail "ha2 discovery configs: $(cat "$T/ha2.sub")"
[ "$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t th2/availability/battery -C 1 -W 5)" = online ] ||
	fail "th2/availability/battery is not retained online"
echo "ha2: ok (meter, modbus, can/ecoflow, eg4: names, units, expire_after, devices; availability)"

# ---- retained status: online while connected, offline after close ----------
HOLD_OUT=$T/hold.out
MQTT_PREFIX=ts "$P" hold >"$HOLD_OUT" 2>"$T/hold.err" &
HOLD_PID=$!
wait_for 15 grep -q ready "$HOLD_OUT" || fail "hold mode never ready: $(cat "$HOLD_OUT" "$T/hold.err")"
S=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t ts/status -C 1 -W 5)
[ "$S" = online ] || fail "status while connected: '$S'"
kill -TERM "$HOLD_PID"
wait "$HOLD_PID" || fail "hold mode: $(cat "$HOLD_OUT" "$T/hold.err")"
HOLD_PID=
S=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t ts/status -C 1 -W 5)
[ "$S" = offline ] || fail "status after close: '$S'"
echo "status: ok"

# ---- last will: killed without DISCONNECT -> the broker says offline -------
prog crash crash MQTT_PREFIX=tc || fail "crash mode: $(cat "$T/crash.out" "$T/crash.err")"
grep -q ready "$T/crash.out" || fail "crash mode did not get ready"
lastwill() { [ "$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t tc/status -C 1 -W 2)" = offline ]; }
wait_for 10 lastwill || fail "no last will: status is still '$(mosquitto_sub -h 127.0.0.1 -p \
	"$MQTT_PORT" -t tc/status -C 1 -W 2)'"
echo "last will: ok"

# ---- broker stops and comes back: RETRY while down, then OK ----------------
# The new broker has no retained messages: the sink must announce its
# sensors again on connecting (they are known series by then).
MQTT_PREFIX=to MQTT_HA=1 MQTT_HA_PREFIX=hao "$P" outage >"$T/outage.out" 2>"$T/outage.err" &
HOLD_PID=$!
wait_for 15 grep -q ready1 "$T/outage.out" || fail "outage mode: $(cat "$T/outage.out" "$T/outage.err")"
mqtt_stop
kill -USR1 "$HOLD_PID"
wait_for 15 grep -q ready2 "$T/outage.out" || fail "outage mode: $(cat "$T/outage.out" "$T/outage.err")"
mqtt_restart || fail "cannot restart mosquitto"
kill -USR1 "$HOLD_PID"
wait "$HOLD_PID" || fail "outage mode: $(cat "$T/outage.out" "$T/outage.err")"
HOLD_PID=
grep -q "^RETRY .*127.0.0.1:$MQTT_PORT" "$T/outage.out" ||
	fail "no clear RETRY while the broker was down: $(cat "$T/outage.out")"
grep -q "^OK " "$T/outage.out" || fail "not delivered after the broker came back"
mqtt_sub "$T/hao.sub" sub-hao -t 'hao/#' --retained-only -W 15 || fail "subscriber"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t hao/zz -m end
sub_wait
# 11: the fields of the four json samples that can be sent (3 + 3 + 3 + 2),
# and the daemon's own.
[ "$(grep -c "^hao/sensor/.*/config {" "$T/hao.sub")" = 11 ] &&
	grep -q "^hao/binary_sensor/.*/status/config {" "$T/hao.sub" ||
	fail "discovery not published again after reconnecting: $(cut -d' ' -f1 "$T/hao.sub")"
echo "outage: ok ($(grep ^RETRY "$T/outage.out"))"

# ---- broker down from the start --------------------------------------------
DOWN=$(_mqtt_free_port)
prog down try MQTT_PORT="$DOWN" MQTT_TRY_S=3 || fail "try (down): $(cat "$T/down.out" "$T/down.err")"
grep -q "^RETRY not connected: .*127.0.0.1:$DOWN.*refused" "$T/down.out" ||
	fail "broker down: $(cat "$T/down.out")"
echo "down: ok ($(head -1 "$T/down.out"))"

# ---- authentication ---------------------------------------------------------
mqtt_stop
mqtt_start_auth powerd 'S3cret-pw' || fail "cannot start mosquitto with a password file"
prog badpw try MQTT_USER=powerd MQTT_PASS='Wrong-pw' ||
	fail "try (bad password): $(cat "$T/badpw.out" "$T/badpw.err")"
grep -q "^RETRY not connected: .*refused.*not authori" "$T/badpw.out" ||
	fail "bad password: $(cat "$T/badpw.out")"
grep -q 'Wrong-pw' "$T/badpw.out" "$T/badpw.err" && fail "the password was printed"
prog goodpw try MQTT_USER=powerd MQTT_PASS='S3cret-pw' MQTT_PREFIX=ta ||
	fail "try (good password): $(cat "$T/goodpw.out" "$T/goodpw.err")"
grep -q "^OK " "$T/goodpw.out" || fail "good password: $(cat "$T/goodpw.out")"
grep -q 'S3cret-pw' "$T/goodpw.out" "$T/goodpw.err" && fail "the password was printed"
echo "auth: ok ($(head -1 "$T/badpw.out"))"

# ---- TLS: verified against the given CA; the system CAs do not know it ------
mqtt_stop
if command -v openssl >/dev/null 2>&1; then
	(
		cd "$T" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
			-subj "/CN=powerd test CA" &&
			openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
				-subj "/CN=127.0.0.1" &&
			printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
			openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
				-out srv.pem -days 2 -extfile ext &&
			openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem \
				-days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1"
	) >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
	chmod 644 "$T"/*.key
	mqtt_start "cafile $T/ca.pem" "certfile $T/srv.pem" "keyfile $T/srv.key" ||
		fail "cannot start mosquitto with TLS"
	prog tlsok try MQTT_TLS=1 MQTT_CA="$T/ca.pem" MQTT_PREFIX=tt ||
		fail "try (tls): $(cat "$T/tlsok.out" "$T/tlsok.err")"
	grep -q "^OK " "$T/tlsok.out" || fail "TLS with the right CA: $(cat "$T/tlsok.out" "$T/tlsok.err")"
	prog tlsbad try MQTT_TLS=1 MQTT_TRY_S=4 ||
		fail "try (tls, system CAs): $(cat "$T/tlsbad.out" "$T/tlsbad.err")"
	grep -q "^RETRY not connected: .*certificate verify failed" "$T/tlsbad.out" ||
		fail "TLS with an unknown CA: $(cat "$T/tlsbad.out")"
	echo "tls: ok ($(head -1 "$T/tlsbad.out"))"
	# A broker with a certificate the CA did not sign, fixed while the sink
	# keeps trying: a TLS failure must not end the reconnect attempts.
	mqtt_stop
	mqtt_start_same_port "certfile $T/other.pem" "keyfile $T/other.key" ||
		fail "cannot start mosquitto with TLS"
	MQTT_TLS=1 MQTT_CA="$T/ca.pem" MQTT_PREFIX=tt MQTT_TRY_S=30 "$P" until-ok \
		>"$T/tlsfix.out" 2>"$T/tlsfix.err" &
	HOLD_PID=$!
	wait_for 15 grep -q "certificate verify failed" "$T/tlsfix.out" ||
		fail "TLS, wrong server certificate: $(cat "$T/tlsfix.out" "$T/tlsfix.err")"
	mqtt_stop
	mqtt_start_same_port "cafile $T/ca.pem" "certfile $T/srv.pem" "keyfile $T/srv.key" ||
		fail "cannot restart mosquitto with TLS"
	wait "$HOLD_PID" || fail "TLS after the fix: $(cat "$T/tlsfix.out" "$T/tlsfix.err")"
	HOLD_PID=
	grep -q "^OK " "$T/tlsfix.out" || fail "TLS after the fix: $(cat "$T/tlsfix.out")"
	echo "tls recovery: ok"
	mqtt_stop
else
	echo "tls: skipped (no openssl)"
fi

# ---- fake broker: no PUBACK (timeout), connection dropped mid-batch --------
cat >"$T/fake.py" <<'EOF'
# Accepts MQTT 3.1.1 connections, never acknowledges a PUBLISH; in "drop"
# mode closes the connection at the first PUBLISH of a sample.
import socket, sys, threading
mode, port = sys.argv[1], int(sys.argv[2])

def read_packet(c):
    h = c.recv(1)
    if not h:
        return None, None
    n, mult = 0, 1
    while True:
        b = c.recv(1)[0]
        n += (b & 127) * mult
        mult *= 128
        if b < 128:
            break
    body = b""
    while len(body) < n:
        chunk = c.recv(n - len(body))
        if not chunk:
            return None, None
        body += chunk
    return h[0], body

def serve(c):
    with c:
        while True:
            t, body = read_packet(c)
            if t is None:
                return
            if t >> 4 == 1:                          # CONNECT
                c.sendall(bytes([0x20, 2, 0, 0]))
            elif t >> 4 == 3:                        # PUBLISH
                tl = body[0] << 8 | body[1]
                if mode == "drop" and b"/pulse/" in body[2:2 + tl]:
                    return
            elif t >> 4 == 12:                       # PINGREQ
                c.sendall(bytes([0xD0, 0]))
            elif t >> 4 == 14:                       # DISCONNECT
                return

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
for mode in silent drop; do
	FP=$(_mqtt_free_port)
	python3 "$T/fake.py" "$mode" "$FP" >"$T/fake-$mode.log" 2>&1 &
	FAKE_PID=$!
	wait_for 10 grep -q ready "$T/fake-$mode.log" || fail "fake broker: $(cat "$T/fake-$mode.log")"
	prog "fake-$mode" try MQTT_PORT="$FP" MQTT_TIMEOUT_MS=700 MQTT_PREFIX=tf ||
		fail "try (fake $mode): $(cat "$T/fake-$mode.out" "$T/fake-$mode.err")"
	kill "$FAKE_PID"
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
	R=$(head -1 "$T/fake-$mode.out")
	case $mode in
	silent)
		[[ $R == "RETRY timeout: 4 of 4 messages unacknowledged by 127.0.0.1:$FP after 0.7 s" ]] ||
			fail "no PUBACK: '$R'"
		;;
	drop)
		[[ $R == RETRY*unacknowledged*"127.0.0.1:$FP lost"* || $R == RETRY*"publishing to"*failed* ]] ||
			fail "connection dropped mid-batch: '$R'"
		;;
	esac
	echo "fake $mode: ok ($R)"
done
exit 0
