#!/bin/bash
# contrib/'s Grafana dashboards, scrape config and alert rules (issue 11):
# promtool checks the config and the rules and runs the rules' unit tests;
# both dashboards are valid JSON; then a real powerd (a replayed pulse meter,
# the replayed EcoFlow CAN bus, a JSON source with `integrate`, a file sink)
# must export every powerd_* metric the Prometheus dashboard and the rules
# use, and its file sink must have written every measurement, field and tag
# the InfluxDB dashboard queries.  A name that powerd does not export fails,
# and a doctored dashboard proves the check can fail.
#   tests/t_dashboards.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
PD=$B/asan/powerd
[ -x "$PD" ] || PD=$B/powerd
[ -x "$PD" ] || fail "$PD not built"
command -v promtool >/dev/null || { echo "promtool missing"; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "python3-yaml missing"; exit 77; }
C=contrib
CHECK=tests/dashboards_check.py
T=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	servers_stop
	rm -rf "$T"
}
trap cleanup EXIT

# prometheus.yml names the rules file relative to itself: check a copy.
cp "$C/prometheus/prometheus.yml" "$C/prometheus/powerd-rules.yml" \
	"$C/prometheus/powerd-rules.test.yml" "$T/"
OUT=$(cd "$T" && promtool check config prometheus.yml 2>&1) || fail "promtool check config: $OUT"
OUT=$(promtool check rules "$C/prometheus/powerd-rules.yml" 2>&1) || fail "promtool check rules: $OUT"
OUT=$(cd "$T" && promtool test rules powerd-rules.test.yml 2>&1) || fail "promtool test rules: $OUT"
for a in PowerdDown PowerdSourceDown PowerdSourceStale PowerdSinkFailing PowerdSpoolGrowing \
	PowerdEnergyCounterReset; do
	grep -q "alertname: $a\$" "$T/powerd-rules.test.yml" || fail "no unit test of $a"
done
# Every expression of the Prometheus dashboard is PromQL that parses.
python3 "$CHECK" promrules "$C/grafana/powerd-prometheus.json" >"$T/dash-rules.yml" || fail "dashboard exprs"
OUT=$(promtool check rules "$T/dash-rules.yml" 2>&1) || fail "a dashboard expression does not parse: $OUT"
for d in "$C/grafana/powerd-prometheus.json" "$C/grafana/powerd-influxdb.json"; do
	python3 -m json.tool "$d" >/dev/null || fail "$d is not JSON"
done

# A live powerd with every kind of metric the dashboards use.
mkdir -p "$T/json"
now=$(date +%s)
python3 -c '
import json, sys
t = int(sys.argv[1]) - 120
recs = [{"measurement": "pv", "tags": {"site": "roof"}, "time": t + 10 * i,
         "fields": {"power_w": 500.0 + i}} for i in range(6)]
json.dump(recs, open(sys.argv[2], "w"))' "$now" "$T/json/a.json"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
persist_interval = 1s

[pulse.demo]
replay           = examples/demo-trace.txt
speed            = 0
impulses_per_kwh = 1000
min_pulse_ms     = 5

[can.battery]
replay           = tests/fixtures/can/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log
speed            = 0

[json.pv]
path             = $T/json
format           = points
integrate        = pv.power_w -> pv_energy_wh

[sink.lp]
type             = file
path             = $T/samples.lp
flush_interval   = 100ms
EOC
"$PD" -c "$T/powerd.conf" 2>"$T/powerd.log" &
PID=$!
wait_for 20 curl -fsS "$URL/metrics" || { cat "$T/powerd.log"; fail "powerd did not serve /metrics"; }
has() { curl -fsS "$URL/metrics" | grep -q "^$1"; }
for m in powerd_pulse_power_watts powerd_source_energy_joules_total powerd_sink_up \
	'powerd_source_samples_total{source="battery"'; do
	wait_for 20 has "$m" || fail "powerd never exported $m"
done
lp_has() { grep -q "^$1[, ]" "$T/samples.lp" 2>/dev/null; }
for m in pulse ecoflow pv; do
	wait_for 20 lp_has "$m" || fail "the file sink wrote no $m sample"
done
wait_for 20 grep -q '^pulse,.*power_w=' "$T/samples.lp" || fail "no pulse sample with power_w"
curl -fsS "$URL/metrics" >"$T/metrics.txt" || fail "GET /metrics"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ $rc -eq 0 ] || { tail -n 30 "$T/powerd.log"; fail "powerd exited $rc on SIGTERM"; }

for f in "$C/grafana/powerd-prometheus.json" "$C/prometheus/powerd-rules.yml"; do
	OUT=$(python3 "$CHECK" prom "$f" "$T/metrics.txt") || fail "$OUT"
done
OUT=$(python3 "$CHECK" influx "$C/grafana/powerd-influxdb.json" "$T/samples.lp") || fail "$OUT"

# Every InfluxQL query of the InfluxDB dashboard runs on a real InfluxDB
# holding those samples and returns a series with values.
if command -v influxd >/dev/null; then
	influx_start "$T/influx" || fail "influxd did not start"
	influx_query "CREATE DATABASE dash" >/dev/null || fail "CREATE DATABASE"
	curl -fsS --max-time 30 -XPOST "$INFLUX_URL/write?db=dash" --data-binary @"$T/samples.lp" ||
		fail "writing the samples to InfluxDB"
	has_values() { # QUERY: it runs and returns a series with values
		local r
		r=$(influx_query "$1" dash) || { echo "InfluxDB refused it" >"$T/q.err"; return 1; }
		python3 -c '
import json, sys
r = json.load(sys.stdin)["results"][0]
assert "error" not in r, r.get("error")
assert any(s.get("values") for s in r.get("series", [])), "no values"' <<<"$r" 2>"$T/q.err"
	}
	has_values 'SELECT mean("power_kw") FROM "pulse"' && fail "a query of a missing field has values"
	n=0
	while IFS= read -r q; do
		has_values "$q" || fail "$q: $(tail -n 1 "$T/q.err")"
		n=$((n + 1))
	done < <(python3 "$CHECK" influxql "$C/grafana/powerd-influxdb.json" "$T/samples.lp")
	[ "$n" -gt 0 ] || fail "no InfluxQL query ran"
	influx_stop
else
	echo "influxd not installed: the InfluxQL queries were not run"
fi

# The check fails on a metric, a field or a measurement powerd does not have.
sed 's/powerd_pulse_power_watts/powerd_pulse_powr_watts/' "$C/grafana/powerd-prometheus.json" >"$T/bad.json"
OUT=$(python3 "$CHECK" prom "$T/bad.json" "$T/metrics.txt") && fail "a misspelt metric passed"
grep -q powerd_pulse_powr_watts <<<"$OUT" || fail "the misspelt metric is not named: $OUT"
sed 's/\\"power_w\\"/\\"power_kw\\"/' "$C/grafana/powerd-influxdb.json" >"$T/bad.json"
OUT=$(python3 "$CHECK" influx "$T/bad.json" "$T/samples.lp") && fail "a misspelt field passed"
grep -q 'pulse.power_kw' <<<"$OUT" || fail "the misspelt field is not named: $OUT"
sed 's/FROM \\"ecoflow\\"/FROM \\"ecoflw\\"/' "$C/grafana/powerd-influxdb.json" >"$T/bad.json"
OUT=$(python3 "$CHECK" influx "$T/bad.json" "$T/samples.lp") && fail "a misspelt measurement passed"
grep -q 'measurement ecoflw' <<<"$OUT" || fail "the misspelt measurement is not named: $OUT"
echo "dashboards and rules: every metric, measurement and field exists"
