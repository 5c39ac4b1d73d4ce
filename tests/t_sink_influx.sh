#!/bin/bash
# The influxdb sink against real servers: InfluxDB 1.x (v1 API) and
# VictoriaMetrics (v1 and v2 APIs), on loopback and free ports.
#
# test_sink_influx writes a known set of samples (every escaping rule, every
# field type, extreme values) and prints the points each server must hold
# (EXPECT_OUT, one JSON object per line); here they are read back through
# each server's query API and compared point by point:
#   InfluxDB: /query epoch=ns, every value, tag and nanosecond timestamp
#     exactly, field types through SHOW FIELD KEYS, and nothing else stored.
#   VictoriaMetrics 1.79: /api/v1/export; it stores numeric fields only, as
#     metrics named MEASUREMENT_FIELD (strings appear as 0: not compared),
#     adds a db label for the v1 API, keeps milliseconds (timestamps are
#     compared at ms resolution) and about 12 significant digits of a value
#     (floats compared to 1e-12 relative; integers and booleans become
#     floats).  Tags are compared exactly.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
BIN=$B/asan/tests/test_sink_influx

[ -x "$BIN" ] || fail "$BIN is missing (make O=$B/asan SAN=asan unit)"
if ! command -v influxd >/dev/null || ! command -v victoria-metrics >/dev/null; then
	echo "skip: needs influxdb and victoria-metrics (apt-get install influxdb victoria-metrics)"
	exit 77
fi
T=$(mktemp -d)
trap 'servers_stop; rm -rf "$T"' EXIT

influx_start "$T/influx" || fail "InfluxDB did not start"
vm_start "$T/vm" || fail "VictoriaMetrics did not start"

if ! EXPECT_OUT=$T/expect.jsonl "$BIN" >"$T/test.log" 2>&1; then
	tail -n 30 "$T/test.log"
	fail "test_sink_influx against the servers"
fi
grep -q "^influx conflict: HTTP 400: .*field type conflict" "$T/test.log" ||
	fail "no field type conflict reported: $(cat "$T/test.log")"

influx_query 'SELECT * FROM /.*/ GROUP BY *' >"$T/influx.json" || fail "InfluxDB query"
influx_query 'SHOW FIELD KEYS' >"$T/influx_fields.json" || fail "InfluxDB SHOW FIELD KEYS"
vm_export '{target=~"vm1|vm2"}' >"$T/vm.jsonl" || fail "VictoriaMetrics export"

python3 - "$T" <<'EOF' || fail "the servers do not hold what was sent"
import json, math, struct, sys

d = sys.argv[1]
expect = [json.loads(l) for l in open(d + "/expect.jsonl")]
errors = []

def err(msg):
    errors.append(msg)

def bits(x):
    return struct.pack("<d", x)

# ---- InfluxDB: exact.  Numbers stay strings so nothing is rounded here.
raw = json.load(open(d + "/influx.json"), parse_float=str, parse_int=str)
points = {}
for s in raw["results"][0].get("series", []):
    if s["name"] == "powerd_conflict":
        continue
    tags = tuple(sorted((k, v) for k, v in s.get("tags", {}).items() if v != ""))
    for row in s["values"]:
        vals = {c: v for c, v in zip(s["columns"], row) if v is not None}
        key = (s["name"], tags, int(vals.pop("time")))
        if key in points:
            err("InfluxDB: two rows for %r" % (key,))
        points[key] = vals
ftypes = {}
for s in json.load(open(d + "/influx_fields.json"))["results"][0].get("series", []):
    for fk, ft in s["values"]:
        ftypes[(s["name"], fk)] = ft
want_type = {"float": "float", "int": "integer", "bool": "boolean", "string": "string"}

ninflux = 0
for e in (e for e in expect if e["server"] == "influx"):
    ninflux += 1
    key = (e["measurement"], tuple(sorted(e["tags"].items())), int(e["ts_ns"]))
    got = points.pop(key, None)
    if got is None:
        err("InfluxDB: point missing: %r" % (key,))
        continue
    if set(got) != set(e["fields"]):
        err("InfluxDB: %r: fields %s, sent %s" % (key, sorted(got), sorted(e["fields"])))
    for k, f in e["fields"].items():
        v = got.get(k)
        t = ftypes.get((e["measurement"], k))
        if t != want_type[f["type"]]:
            err("InfluxDB: %s.%s stored as %s, sent %s" % (e["measurement"], k, t, f["type"]))
        if f["type"] == "float":
            ok = isinstance(v, str) and bits(float(v)) == bits(float(f["value"]))
        elif f["type"] == "int":
            ok = isinstance(v, str) and int(v) == int(f["value"])
        elif f["type"] == "bool":
            ok = v is (f["value"] == "true")
        else:
            ok = v == f["value"]
        if not ok:
            err("InfluxDB: %s.%s = %r, sent %r" % (e["measurement"], k, v, f["value"]))
for key in points:
    err("InfluxDB: a point nobody sent: %r" % (key,))

# ---- VictoriaMetrics: numeric fields, ms timestamps, ~12 digits.
series = {}
for line in open(d + "/vm.jsonl"):
    if not line.strip():
        continue
    o = json.loads(line)
    labels = dict(o["metric"])
    name = labels.pop("__name__")
    key = (name, tuple(sorted(labels.items())))
    for ts, v in zip(o["timestamps"], o["values"]):
        series.setdefault(key, []).append((ts, v))
string_series = set()
nvm = 0
for e in (e for e in expect if e["server"] == "vm"):
    labels = dict(e["tags"])
    if e["database"]:
        labels["db"] = e["database"]
    lk = tuple(sorted(labels.items()))
    ts_ms = int(e["ts_ns"]) // 1000000
    for k, f in e["fields"].items():
        name = e["measurement"] + "_" + k
        if f["type"] == "string":
            string_series.add((name, lk))
            continue
        nvm += 1
        got = series.pop((name, lk), None)
        if got is None:
            err("VictoriaMetrics: series missing: %s%r" % (name, labels))
            continue
        if len(got) != 1 or got[0][0] != ts_ms:
            err("VictoriaMetrics: %s%r: samples %r, want one at %d ms" % (name, labels, got, ts_ms))
            continue
        v = float(got[0][1])
        if f["type"] == "bool":
            want = 1.0 if f["value"] == "true" else 0.0
            ok = v == want
        else:
            want = float(int(f["value"])) if f["type"] == "int" else float(f["value"])
            ok = math.isclose(v, want, rel_tol=1e-12, abs_tol=0.0)
        if not ok:
            err("VictoriaMetrics: %s%r = %r, sent %s" % (name, labels, v, f["value"]))
for key in series:
    if key not in string_series:
        err("VictoriaMetrics: a series nobody sent: %r" % (key,))

if ninflux < 3 or nvm < 28:
    err("too few points compared: %d InfluxDB, %d VictoriaMetrics" % (ninflux, nvm))
for m in errors:
    print(m)
if errors:
    sys.exit(1)
print("compared %d InfluxDB points exactly and %d VictoriaMetrics samples" % (ninflux, nvm))
EOF
echo ok
