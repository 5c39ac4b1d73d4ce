#!/bin/bash
# valid, derive and integrate (issue 8) on a JSON source, end to end: PowMr
# documents (format = flat, the time in "ts", Unix ms) with valid_info toggling, a
# pv_voltage of 0 and a gap longer than integrate_max_gap.  Only valid
# documents arrive; charge_power and pv_current are derived (none for the
# division by zero, counted); pv_energy_wh and load_energy_wh are the
# trapezoid over the valid samples' times, not across the gap, to 1e-9,
# continuing across a reload (SIGHUP), a restart and a kill -9 taken after
# the periodic save; /metrics shows the same energy in joules.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT
[ -n "${KEEP:-}" ] && trap "" EXIT
D=$T/in
mkdir -p "$D"
T0=$(($(date +%s) - 7200))
# gen FIRST COUNT: documents FIRST..FIRST+COUNT-1, their truth in truth.txt
gen() {
	python3 - "$D" "$T0" "$1" "$2" >>"$T/truth.txt" <<'EOP'
import json, random, sys
d, t0, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(first, first + count):
    r = random.Random(i)
    t = (t0 + i * 3 + (20 if i >= 30 else 0)) * 1000 + r.randint(0, 999)  # ms; a 20 s gap before 30
    valid = 0 if i % 5 == 3 else 1
    pv_v = 0 if i == 17 else round(80 + r.random() * 20, 1)
    doc = {"ts": t,
           "ac": {"output_watts": r.randint(100, 900), "output_voltage": 121.5},
           "dc": {"pv_power": round(r.random() * 500, 3), "pv_voltage": pv_v, "pv_current": 9.99,
                  "voltage": round(26 + r.random() * 2, 2), "charge_current": round(r.random() * 30, 2),
                  "charge_power": 0},
           "inverter": {"valid_info": valid, "soc": 100}}
    open(f"{d}/s{i:04d}.json", "w").write(json.dumps(doc))
    print(json.dumps(doc))
EOP
}
port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
persist_interval = 1s
[json.powmr]
path        = $D
format      = flat
time_key    = ts
time_format = unix_ms
valid       = inverter.valid_info = 1
derive      = dc.charge_power = dc.voltage * dc.charge_current
derive      = dc.pv_current = dc.pv_power / dc.pv_voltage
integrate   = dc.pv_power -> pv_energy_wh, ac.output_watts -> load_energy_wh
integrate_max_gap = 10s
[sink.lp]
type = file
path = $T/out.lp
EOC
dc_lines() { grep -c '^dc ' "$T/out.lp" 2>/dev/null || echo 0; }
# valid documents among the first N
valid_upto() { head -n "$1" "$T/truth.txt" | grep -c '"valid_info": 1'; }
dc_ge() { [ "$(dc_lines)" -ge "$1" ]; }
wait_dc() { wait_for 30 dc_ge "$1" || fail "$(dc_lines) dc samples, want $1"; }

gen 0 12
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_dc "$(valid_upto 12)"
# a reload: the integrals continue
kill -HUP "$PID"
sleep 1
gen 12 12
wait_dc "$(valid_upto 24)"
pd_stop
[ -s "$T/state/integrate.powmr.state" ] || fail "no integrate.powmr.state after a clean stop"
head -n 1 "$T/state/integrate.powmr.state" | grep -qx 'powerd-integrate 1' || fail "state: $(cat "$T/state/integrate.powmr.state")"
gen 24 12
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_dc "$(valid_upto 36)"
# kill -9 after the periodic save (persist_interval = 1s) and the JSON
# checkpoint: what was saved is what was published, so nothing is lost
sleep 3
pd_stop KILL
gen 36 12
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_dc "$(valid_upto 48)"
sleep 1
joules=$(m 'powerd_source_energy_joules_total{source="powmr",kind="json",measurement="dc",field="pv_energy_wh"}')
invalid=$(m 'powerd_source_errors_total{source="powmr",kind="json",reason="invalid"}')
derive=$(m 'powerd_source_errors_total{source="powmr",kind="json",reason="derive"}')
gaps=$(m 'powerd_source_errors_total{source="powmr",kind="json",reason="integrate_gap"}')
pd_stop
sanitizer_clean "$T/powerd.log"
# counters since the last start (documents 36..47): 2 invalid (38, 43), no
# division by zero (17 was before), no gap (the gap was at 30)
[ "$invalid" = 2 ] || fail "invalid: $invalid, want 2"
[ "$derive" = 0 ] && [ "$gaps" = 0 ] || fail "derive $derive gaps $gaps since the last start, want 0 0"
python3 - "$T/truth.txt" "$T/out.lp" "$joules" <<'EOP' || fail "the samples do not match the documents"
import json, sys
truth = [json.loads(l) for l in open(sys.argv[1])]
got = {}
def val(v):
    return int(v[:-1]) if v.endswith("i") else float(v)
for line in open(sys.argv[2]):
    meas, fields, ts = line.split()
    f = dict(kv.split("=", 1) for kv in fields.split(","))
    key = (meas, int(ts))
    if key in got and got[key] != f:
        sys.exit(f"{key} arrived twice, differently: {got[key]} / {f}")
    got[key] = f
ok = True
def check(cond, msg):
    global ok
    if not cond:
        print(msg); ok = False
e_pv = e_ac = 0.0
last = None
nvalid = 0
for i, d in enumerate(truth):
    ts = d["ts"] * 1000000
    dc = got.get(("dc", ts))
    if not d["inverter"]["valid_info"]:
        check(dc is None and ("inverter", ts) not in got, f"doc {i}: invalid, yet it arrived")
        continue
    nvalid += 1
    if dc is None:
        check(False, f"doc {i}: missing"); continue
    if last is not None and ts - last[0] <= 10e9:
        dt = (ts - last[0]) / 1e9
        e_pv += (d["dc"]["pv_power"] + last[1]) / 2 * dt
        e_ac += (d["ac"]["output_watts"] + last[2]) / 2 * dt
    last = (ts, d["dc"]["pv_power"], d["ac"]["output_watts"])
    check(val(dc["charge_power"]) == d["dc"]["voltage"] * d["dc"]["charge_current"],
          f"doc {i}: charge_power {dc['charge_power']}")
    if d["dc"]["pv_voltage"] == 0:
        check("pv_current" not in dc, f"doc {i}: pv_current {dc.get('pv_current')} from a division by zero")
    else:
        check(val(dc["pv_current"]) == d["dc"]["pv_power"] / d["dc"]["pv_voltage"], f"doc {i}: pv_current")
    for name, want in (("pv_energy_wh", e_pv / 3600),):
        g = val(dc[name])
        check(abs(g - want) <= 1e-9 * max(1.0, abs(want)), f"doc {i}: {name} {g}, want {want}")
    ac = got.get(("ac", ts))
    g = val(ac["load_energy_wh"]) if ac else None
    check(g is not None and abs(g - e_ac / 3600) <= 1e-9 * max(1.0, e_ac / 3600), f"doc {i}: load_energy_wh {g}, want {e_ac/3600}")
j = float(sys.argv[3])
check(abs(j - e_pv) <= 1e-9 * e_pv, f"/metrics: {j} J, want {e_pv}")
check(nvalid == sum(1 for k in got if k[0] == "dc"), f"{nvalid} valid documents, {sum(1 for k in got if k[0]=='dc')} dc samples")
print(f"{nvalid} valid of {len(truth)}, pv {e_pv/3600:.6f} Wh, load {e_ac/3600:.6f} Wh")
sys.exit(0 if ok else 1)
EOP
echo "ok: valid, derive and integrate across a reload, a restart and kill -9"
