#!/bin/bash
# Seed 003's bridge, replaced end to end (issue 8): powerd polls a PowMr
# dongle (tests/powmr_dongle.py: the seed's /api/status, values changing
# with every request, valid_info 0 on every fourth) and writes to a real
# InfluxDB 1.6 (the local server) and VictoriaMetrics (the cloud backup),
# plus a change-detecting file sink.  The backup is down for a while and
# powerd restarts meanwhile; once it is back, both hold every valid poll
# exactly once and no invalid one, pv_energy_wh and load_energy_wh are the
# trapezoid over the stored samples (to 1e-9), charge_power is derived,
# and change detection sends unchanged series only as heartbeats and an
# all-zero one once per run.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
. tests/faults/lib.sh # vm_points, wait_vm_points
PD=$B/asan/powerd
T=$(mktemp -d)
PID= DPID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	servers_stop
	rm -rf "$T"
}
trap cleanup EXIT
influx_start "$T/influx" || fail "InfluxDB did not start"
vm_start "$T/vm" || fail "VictoriaMetrics did not start"
influx_query "CREATE DATABASE powmr" >/dev/null || fail "CREATE DATABASE"
read -r port dport < <(free_port 2 | tr '\n' ' ')
URL=http://127.0.0.1:$port
python3 tests/powmr_dongle.py "$dport" "$T/served.log" &
DPID=$!
wait_for 10 curl -fsS "http://127.0.0.1:$dport/ping" || fail "the dongle did not start"
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[http.powmr]
url       = http://127.0.0.1:$dport/api/status
interval  = 400ms
timeout   = 2s
format    = flat
valid     = inverter.valid_info = 1
derive    = dc.charge_power = dc.voltage * dc.charge_current
integrate = dc.pv_power -> pv_energy_wh, ac.output_watts -> load_energy_wh
[sink.local]
type       = influxdb
url        = $INFLUX_URL
database   = powmr
retry_base = 200ms
retry_max  = 1s
[sink.cloud]
type       = influxdb
url        = $VM_URL
database   = powmr
retry_base = 200ms
retry_max  = 1s
[sink.changes]
type             = file
path             = $T/changes.lp
change_detection = yes
heartbeat        = 2s
EOC
start() {
	"$PD" -c "$T/powerd.conf" 2>>"$T/powerd.log" &
	PID=$!
	up() { kill -0 "$PID" && curl -fsS --max-time 2 "$URL/metrics" >/dev/null; }
	wait_for 30 up || { tail -n 20 "$T/powerd.log" >&2; fail "powerd did not start"; }
}
stop() {
	kill -TERM "$PID"
	wait "$PID" || fail "powerd exited $? on SIGTERM"
	PID=
}
local_dc() {
	influx_query "SELECT count(pv_power) FROM dc" powmr |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["series"][0]["values"][0][1] if "series" in r else 0)'
}
dc_ge() { [ "$(local_dc)" -ge "$1" ]; }

start
wait_for 30 dc_ge 5 || fail "InfluxDB has $(local_dc) dc points after 30 s"
vm_stop TERM # the cloud goes away
sleep 2
stop_t=$(date +%s.%N)
stop
sleep 1
start_t=$(date +%s.%N)
start
sleep 3
vm_start "$T/vm" || fail "VictoriaMetrics did not come back"
sleep 2
kill "$DPID"
wait "$DPID" 2>/dev/null
DPID=
n=$(grep -c '"valid": 1' "$T/served.log")
# every valid poll except, at most, one answered as powerd was stopping
wait_for 30 dc_ge $((n - 1)) || fail "InfluxDB has $(local_dc) of $n valid polls"
wait_vm_points '{__name__="dc_pv_power"}' "$(local_dc)" 30 ||
	fail "VictoriaMetrics has $(vm_points '{__name__="dc_pv_power"}') of $(local_dc) points"
invalid=$(metric 'powerd_source_errors_total{source="powmr",kind="http",reason="invalid"}' "$URL/metrics")
stop
grep -E "Sanitizer|runtime error" "$T/powerd.log" && fail "sanitizer report"
influx_query "SELECT pv_power, pv_energy_wh, charge_power, charge_current FROM dc" powmr >"$T/dc.json"
influx_query "SELECT output_watts, load_energy_wh FROM ac" powmr >"$T/ac.json"
influx_query "SELECT count(valid_info) FROM inverter WHERE valid_info != 1" powmr >"$T/inv.json"
vm_export '{__name__=~"dc_pv_power|dc_pv_energy_wh"}' >"$T/vm.json"
python3 - "$T" "$stop_t" "$start_t" "${invalid:-missing}" <<'EOP' || fail "see above"
import json, sys
T, stop_t, start_t, invalid = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
served = [json.loads(l) for l in open(f"{T}/served.log")]
def rows(name):
    r = json.load(open(f"{T}/{name}"))["results"][0]
    return r["series"][0]["values"] if "series" in r else []
bad = []
dc, ac = rows("dc.json"), rows("ac.json")
valid = [s for s in served if s["valid"]]
want = {s["doc"]["dc"]["pv_power"] for s in valid}
got = [r[1] for r in dc]
if len(got) != len(set(got)):
    bad.append("a poll stored twice")
missing = [s for s in valid if s["doc"]["dc"]["pv_power"] not in set(got)]
# only a poll answered while powerd was stopping may be missing
if any(not (stop_t - 0.5 <= s["t"] <= stop_t + 0.5) for s in missing) or len(missing) > 1:
    bad.append(f"missing valid polls: {[(s['i'], s['t']) for s in missing]} (stop at {stop_t})")
if set(got) - want:
    bad.append(f"stored but never valid: {sorted(set(got) - want)}")
if rows("inv.json"):
    bad.append("an invalid read was stored")
inv2 = sum(1 for s in served if not s["valid"] and s["t"] > start_t)
if invalid != str(inv2):
    bad.append(f"invalid counted {invalid}, served {inv2} since the restart")
# the trapezoids over the stored samples, from 0
def trapezoid(rs, name):
    e = 0.0
    for k, r in enumerate(rs):
        if k:
            dt = (r[0] - rs[k - 1][0]) / 1e9
            e += (r[1] + rs[k - 1][1]) / 2 * dt
        if abs(r[2] - e / 3600) > 1e-9 * max(1.0, e / 3600):
            bad.append(f"{name} at {r[0]}: {r[2]!r}, trapezoid {e / 3600!r}")
            return
trapezoid(dc, "pv_energy_wh")
trapezoid(ac, "load_energy_wh")
for r in dc:
    if r[3] != r[4] * 27.4:
        bad.append(f"charge_power {r[3]} != 27.4 * {r[4]}"); break
# the backup: the same samples, after its outage and powerd's restart
vm = {}
for l in open(f"{T}/vm.json"):
    if l.strip():
        j = json.loads(l)
        vm[j["metric"]["__name__"]] = dict(zip(j["timestamps"], j["values"]))
for name, col in (("dc_pv_power", 1), ("dc_pv_energy_wh", 2)):
    local = {r[0] // 1000000: r[col] for r in dc}
    if set(vm.get(name, {})) != set(local):
        bad.append(f"VictoriaMetrics {name}: {len(vm.get(name, {}))} points, InfluxDB {len(local)}")
    elif any(abs(vm[name][t] - v) > 1e-9 * max(1.0, abs(v)) for t, v in local.items()):
        bad.append(f"VictoriaMetrics {name} differs from InfluxDB")
# change detection: dc changes every poll; inverter only by heartbeat (2 s);
# bms {"alarm": 0} once per run
ch = {}
for l in open(f"{T}/changes.lp"):
    m, _, ts = l.split()
    ch.setdefault(m, []).append(int(ts))
if len(ch.get("dc", [])) != len(dc):
    bad.append(f"changes: {len(ch.get('dc', []))} dc lines, {len(dc)} stored")
inv = sorted(ch.get("inverter", []))
gaps = [(b - a) / 1e9 for a, b in zip(inv, inv[1:]) if not (a / 1e9 < stop_t < b / 1e9)]
if not (3 <= len(inv) < len(dc) / 2) or any(g < 1.5 for g in gaps):
    bad.append(f"changes: inverter lines at {inv} for {len(dc)} polls (heartbeat 2s)")
if len(ch.get("bms", [])) not in (1, 2):
    bad.append(f"changes: bms (all zero) sent {len(ch.get('bms', []))} times")
print(f"{len(valid)} valid polls of {len(served)}, {len(dc)} stored, {len(missing)} missing at the stop; "
      f"changes: {len(inv)} inverter, {len(ch.get('bms', []))} bms lines")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOP
echo "ok: the PowMr bridge, both databases, energies and change detection"
