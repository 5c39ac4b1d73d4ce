#!/bin/bash
# End to end, the Power Pod 1 owner (seed 000, issue 7): 24 h of logger files
# (8,640 files of 11 records, tools/genpp1.py) read by [json.pp1] and shipped
# to the CloudWatch fake (dimensions = none, the original uploader's metric
# names) and to VictoriaMetrics (line protocol), with a file sink to check
# the types.  powerd is killed with -9 halfway through the backlog and
# started again; a corrupt file must land in failed/, counted, with every
# file after it read; files added while it runs must arrive within seconds.
# Every point must arrive, with its own time and value; duplicates only
# within the documented window (the checkpoint's second, plus what a sink
# had sent but not yet seen acknowledged).
#   tests/t_json_pp1.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
[ -x "$PD" ] || PD=$B/powerd
py=/usr/bin/python3
"$py" -c 'import botocore.auth' 2>/dev/null || { echo "python3-botocore missing"; exit 77; }
command -v victoria-metrics >/dev/null || { echo "victoria-metrics missing"; exit 77; }

T=$(mktemp -d /tmp/powerd-pp1-XXXXXX)
PID=
FAKE=
cleanup() {
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
	servers_stop
	fault_cleanup
}
trap cleanup EXIT
export TZ=UTC
FILES=${PP1_FILES:-8640}

vm_start "$T/vm" || fail "VictoriaMetrics did not start"
"$py" tests/cloudwatch_fake.py --region us-west-1 --record "$T/cw.jsonl" \
	--port-file "$T/cw.port" --cred AKIDPP1TEST:pp1secret >"$T/fake.out" 2>"$T/fake.log" &
FAKE=$!
wait_for 20 test -s "$T/cw.port" || fail "the CloudWatch fake did not start: $(tail -5 "$T/fake.log")"

# The backlog, with a corrupt file three quarters in (after the kill; written an hour ago: not
# a file its writer is still at).
start=$(($(date +%s) - FILES * 10 - 600))
"$py" tools/genpp1.py "$T/msgs" --files "$FILES" --start "$start" >/dev/null || fail "genpp1"
bad=$(ls "$T/msgs" | sed -n "$((FILES * 3 / 4))p" | sed 's/\.json$/-5.json/')
printf '{"telemetry": [{"measurement": "grid", "tags": {}, "time": "2026-' >"$T/msgs/$bad"
touch -d '1 hour ago' "$T/msgs/$bad"

port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock

[json.pp1]
path    = $T/msgs
pattern = message_*.json
format  = points
after   = keep

[sink.cw]
type       = cloudwatch
namespace  = pp1_telemetry
region     = us-west-1
endpoint   = http://127.0.0.1:$(cat "$T/cw.port")/
dimensions = none
metrics    = grid.voltage -> grid_voltage, grid.frequency -> grid_frequency
metrics    = grid.power -> grid_power, grid.current -> grid_current
metrics    = inverter.voltage -> inverter_voltage, inverter.load_power -> load_power
metrics    = inverter.whole_home_power -> whole_home_power, inverter.current -> inverter_current
metrics    = inverter.temperature -> inverter_temperature, battery.voltage -> battery_voltage
metrics    = battery.power_charge -> battery_power_charge
metrics    = battery.power_discharge -> battery_power_discharge
metrics    = battery.current -> battery_current, battery.charge_state -> battery_charge_state
metrics    = battery.temperature -> battery_temperature

[sink.vm]
type     = influxdb
url      = $VM_URL
database = pp1

[sink.lp]
type = file
path = $T/points.lp
EOC
export AWS_ACCESS_KEY_ID=AKIDPP1TEST AWS_SECRET_ACCESS_KEY=pp1secret
unset AWS_SESSION_TOKEN AWS_PROFILE

progress() { # prints "done total state"
	curl -fsS --max-time 2 "$URL/api/status" 2>/dev/null | "$py" -c '
import json, sys
s = [x for x in json.load(sys.stdin)["sources"] if x["name"] == "pp1"][0]
p = s.get("progress", {})
print(p.get("done", 0), p.get("total", 0), s["state"])'
}

# 1. Halfway through the backlog: kill -9.
pd_start "$T/powerd.conf" "$T/powerd.log"
t0=$(date +%s.%N)
half=$((FILES / 2))
for ((i = 0; i < 1200; i++)); do
	read -r done total state < <(progress) || true
	[ "${done:-0}" -ge "$half" ] && break
	[ "${state:-}" = ok ] && break
	sleep 0.05
done
[ "${state:-}" = backlog ] || fail "not in the backlog at the kill (state ${state:-?}, $done of $total)"
t1=$(date +%s.%N)
echo "first run: $done of $total files in $(echo "$t1 - $t0" | bc) s, then kill -9"
pd_stop KILL
sanitizer_clean "$T/powerd.log"
[ -f "$T/state/json.pp1.checkpoint" ] || fail "no checkpoint after the first run"
echo "checkpoint: $(tail -1 "$T/state/json.pp1.checkpoint")"

# 2. Again: the rest of the backlog.
pd_start "$T/powerd.conf" "$T/powerd.log"
backlog_done() { [ "$(progress | cut -d' ' -f3)" = ok ]; }
wait_for 300 backlog_done || fail "the backlog did not finish: $(progress)"
grep -q "files to read in" "$T/powerd.log" && grep -q "backlog done: " "$T/powerd.log" ||
	fail "no backlog lines in the log"

# 3. Files added while it runs arrive within seconds.
added_at=$(date +%s.%N)
"$py" tools/genpp1.py "$T/msgs" --files 30 --start "$start" --first "$FILES" >/dev/null
all_read() {
	n=$(ls "$T/msgs" | grep -c '^message_')
	[ "$(grep -c . "$T/points.lp" 2>/dev/null)" -ge $(((n - 1) * 11)) ]
}
wait_for 30 all_read || fail "the 30 new files did not arrive within 30 s"
echo "30 live files in the file sink $(echo "$(date +%s.%N) - $added_at" | bc) s after they were written"

# 4. Let the sinks drain (nothing unsent, nothing held), then stop cleanly.
drained() {
	local k
	for k in cw vm lp; do
		[ "$(metric "powerd_sink_spool_unsent_bytes{sink=\"$k\"}" "$URL/metrics")" = 0 ] || return 1
		[ "$(metric "powerd_sink_samples_in_memory{sink=\"$k\"}" "$URL/metrics")" = 0 ] || return 1
	done
}
wait_for 180 drained || fail "the sinks did not drain: $(curl -fsS "$URL/metrics" | grep -E 'unsent_bytes|in_memory')"
wait_vm_points '{__name__=~"grid_voltage|battery_charge_state"}' $(((FILES + 30) * 2)) 60 ||
	fail "VictoriaMetrics has too few points"
errs=$(metric 'powerd_source_errors_total{source="pp1",kind="json",reason="not_json"}' "$URL/metrics")
pd_stop TERM
sanitizer_clean "$T/powerd.log"

[ "${errs:-0}" = 1 ] || fail "not_json errors: ${errs:-none} (want 1)"

# 5. A clean stop and start re-reads and re-sends nothing.
n_lp=$(wc -l <"$T/points.lp") n_cw=$(wc -l <"$T/cw.jsonl")
pd_start "$T/powerd.conf" "$T/powerd.log"
sleep 3
pd_stop TERM
[ "$(wc -l <"$T/points.lp")" = "$n_lp" ] && [ "$(wc -l <"$T/cw.jsonl")" = "$n_cw" ] ||
	fail "a clean restart sent again: file sink $n_lp -> $(wc -l <"$T/points.lp"), CloudWatch $n_cw -> $(wc -l <"$T/cw.jsonl")"
[ -f "$T/msgs/failed/$bad" ] || fail "the corrupt file is not in failed/: $(ls "$T/msgs/failed" 2>&1)"
grep -q "$bad refused (not_json" "$T/powerd.log" || fail "no log line for the corrupt file"
[ "$(grep -c "refused (" "$T/powerd.log")" = 1 ] || fail "more than one refusal logged"

vm_export '{__name__=~".+"}' >"$T/vm.jsonl" || fail "VictoriaMetrics export"
"$py" - "$T" "$FILES" <<-'PY' || fail "points (above)"
	import collections, glob, json, os, sys
	from datetime import datetime, timezone
	t, files = sys.argv[1], int(sys.argv[2])

	def ms(s):
	    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
	               .replace(tzinfo=timezone.utc).timestamp() * 1000)

	recs = []
	for f in sorted(glob.glob(os.path.join(t, "msgs", "message_*.json"))):
	    recs += json.load(open(f))["telemetry"]
	nfiles = len(glob.glob(os.path.join(t, "msgs", "message_*.json")))
	assert nfiles == files + 30, nfiles
	# What the original uploader sent: these names, no dimensions.
	names = {("grid", f): "grid_" + f for f in ("voltage", "frequency", "power", "current")}
	names.update({("inverter", "voltage"): "inverter_voltage", ("inverter", "load_power"): "load_power",
	              ("inverter", "whole_home_power"): "whole_home_power",
	              ("inverter", "current"): "inverter_current",
	              ("inverter", "temperature"): "inverter_temperature"})
	names.update({("battery", f): "battery_" + f for f in
	              ("voltage", "power_charge", "power_discharge", "current", "charge_state",
	               "temperature")})
	want = collections.Counter()
	for r in recs:
	    for k, v in r["fields"].items():
	        n = names.get((r["measurement"], k))
	        if n:
	            want[(n, ms(r["time"]), float(v))] += 1
	got = collections.Counter()
	for line in open(os.path.join(t, "cw.jsonl")):
	    d = json.loads(line)
	    assert d["dims"] == [], d
	    assert d["namespace"] == "pp1_telemetry", d
	    got[(d["name"], d["ts_ms"], d["value"])] += 1
	missing = want - got
	extra = set(got) - set(want)
	assert not missing, f"CloudWatch: {sum(missing.values())} datums missing, e.g. {list(missing)[:3]}"
	assert not extra, f"CloudWatch: {len(extra)} datums never written, e.g. {list(extra)[:3]}"
	cw_dups = sum(got.values()) - sum(want.values())
	cw_dup_max = max(got.values())
	assert set(n for n, _, _ in got) == set(names.values()) - {"battery_temperature"}

	# VictoriaMetrics: every field of every record, measurement_field{tags};
	# it keeps 12-13 significant digits of a float (-133.9960762686128 reads
	# back as -133.9960762686), so values are compared to 1e-11.
	want, wval = collections.Counter(), {}
	for r in recs:
	    tags = tuple(sorted((k, str(v)) for k, v in r["tags"].items()))
	    for k, v in r["fields"].items():
	        key = (r["measurement"] + "_" + k, tags, ms(r["time"]))
	        want[key] += 1
	        wval[key] = float(v)
	got, bad = collections.Counter(), []
	for line in open(os.path.join(t, "vm.jsonl")):
	    s = json.loads(line)
	    m = dict(s["metric"])
	    name = m.pop("__name__")
	    m.pop("db", None)
	    tags = tuple(sorted(m.items()))
	    for ts, v in zip(s["timestamps"], s["values"]):
	        key = (name, tags, ts)
	        got[key] += 1
	        if key in wval and abs(float(v) - wval[key]) > 1e-11 * max(1.0, abs(wval[key])):
	            bad.append((key, v, wval[key]))
	missing = want - got
	extra = set(got) - set(want)
	assert not missing, f"VictoriaMetrics: {sum(missing.values())} points missing, e.g. {list(missing)[:3]}"
	assert not extra, f"VictoriaMetrics: {len(extra)} unknown points, e.g. {list(extra)[:3]}"
	assert not bad, f"VictoriaMetrics: {len(bad)} wrong values, e.g. {bad[:3]}"
	vm_dups = sum(got.values()) - sum(want.values())
	vm_dup_max = max(got.values())

	# The file sink: every record once or more, types as written.
	seen = collections.Counter()
	for line in open(os.path.join(t, "points.lp")):
	    head, fields, ts = line.rstrip("\n").rsplit(" ", 2)
	    seen[(head, int(ts) // 1000000)] += 1
	    for kv in fields.split(","):
	        k, v = kv.split("=", 1)
	        if k in ("power_import", "power_export", "whole_home_power"):
	            assert v.endswith("i"), line
	        elif k == "enabled":
	            assert v == "true", line
	        else:
	            float(v)
	want = collections.Counter((r["measurement"] + "".join(f",{k}={v}" for k, v in r["tags"].items()),
	                            ms(r["time"])) for r in recs)
	missing = want - seen
	assert not missing, f"file sink: {sum(missing.values())} records missing"
	lp_dups = sum(seen.values()) - sum(want.values())
	lp_dup_max = max(c for k, c in seen.items())
	# The windows are time: the files done in the checkpoint's last second
	# (at most 1,024 files), and each sink's batches acknowledged in the last
	# second before the kill (its ack file's lag).  The first run took about
	# a second, so what it did may come again from the source and from a
	# sink's spool, but a point never more than three times; and a clean
	# stop and start re-send nothing (checked above).
	print(f"duplicates after kill -9: CloudWatch {cw_dups} datums, VictoriaMetrics {vm_dups} "
	      f"points, file sink {lp_dups} records")
	for c, what in ((cw_dup_max, "CloudWatch"), (vm_dup_max, "VictoriaMetrics"), (lp_dup_max, "file sink")):
	    assert c <= 3, f"{what}: a point arrived {c} times"
	print(f"ok: {len(recs)} records from {nfiles} files in all three sinks")
PY
echo "PASS"
