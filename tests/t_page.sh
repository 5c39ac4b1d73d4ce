#!/bin/bash
# The status page in a real browser (headless chromium, ASan+UBSan powerd):
# a meter replayed at full speed (its trace ends now, so its last hour is
# in the history) and two JSON sources read once (one plotting its
# power-like field by default, one with plot =), then frozen; the plots
# survive a reload.
# tests/page_check.py drives chromium over the DevTools protocol at 1280
# and 390 px: plots with as many points as /api/history, headline numbers
# equal to /api/status, no sideways scrolling, no browser errors;
# screenshots in BUILD/page-desktop.png and BUILD/page-phone.png.
set -u
B=${1:-build}
. tests/lib.sh
PD=$B/asan/powerd
[ -x "$PD" ] || fail "$PD not built"
CHROMIUM=$(command -v chromium) || { echo "SKIP: chromium is not installed (tools/install-deps.sh test)"; exit 77; }
/usr/bin/python3 -c 'import websocket' 2>/dev/null ||
	{ echo "SKIP: python3-websocket is not installed"; exit 77; }
T=$(mktemp -d)
PID= CPID=
# chromium's own processes (renderer, GPU, zygote) end with the browser's:
# SIGTERM lets it close them and its profile, SIGKILL if it does not.
stop_chromium() {
	local i
	[ -n "$CPID" ] || return 0
	kill -TERM "$CPID" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
	CPID=
}
cleanup() {
	stop_chromium
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T" 2>/dev/null || { sleep 1; rm -rf "$T"; }
}
trap cleanup EXIT

python3 tools/gentrace.py --profile household --seconds 3000 --seed 5 -o "$T/trace.txt" \
	--truth "$T/truth.json" 2>/dev/null || fail "gentrace"
N=$(json_get "$(cat "$T/truth.json")" 'd["flashes"]')
mkdir -p "$T/json"
python3 - "$T/json/a.json" <<'EOF' || fail "writing the JSON points"
import json, math, sys, time
now, pts = int(time.time()), []
for i in range(150):
    t = now - 3000 + i * 20
    pts.append({"measurement": "inverter", "tags": {"site": "home"}, "time": t,
                "fields": {"battery_v": 51 + math.sin(i / 10), "pv_power": 800 + 400 * math.sin(i / 15),
                           "mode": "grid"}})
    pts.append({"measurement": "env", "time": t, "fields": {"humidity_pct": 40 + i % 7,
                                                           "temp_c": 20 + 3 * math.cos(i / 20)}})
json.dump(pts, open(sys.argv[1], "w"))
EOF
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/run/powerd.sock

[pulse.house]
replay           = $T/trace.txt
speed            = 0
impulses_per_kwh = 1000
min_pulse_ms     = 5
timeout          = 24h            ; frozen: no 0 W sample while the test runs
sample_interval  = 100h

[json.inverter]
path             = $T/json

[json.env]
path             = $T/json
plot             = env.temp_c

[sink.lp]
type             = file
path             = $T/samples.lp
EOC
"$PD" -c "$T/powerd.conf" 2>>"$T/powerd.log" &
PID=$!
flashes() { metric 'powerd_pulse_flashes_total{meter="house"}' "$URL/metrics"; }
done_reading() {
	[ "$(flashes)" = "$N" ] &&
		curl -fsS "$URL/api/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = {x["name"]: x for x in d["sources"]}
sys.exit(0 if s["house"]["state"] == "idle" and s["inverter"]["samples"] == 300 and s["env"]["samples"] == 300 else 1)'
}
wait_for 30 done_reading || { tail -n 20 "$T/powerd.log"; fail "powerd did not read its inputs"; }

# /api/history: one series per source, what each plots, the unknown source.
H=$(curl -fsS "$URL/api/history") || fail "GET /api/history"
python3 - "$H" <<'EOF' || fail "/api/history: $H"
import json, sys
d = json.loads(sys.argv[1])
s = {x["source"]: x for x in d["series"]}
assert d["step_s"] == 15 and d["window_s"] == 3600, d
assert (s["house"]["field"], s["house"]["unit"]) == ("power_w", "W"), s["house"]
assert (s["inverter"]["measurement"], s["inverter"]["field"]) == ("inverter", "pv_power")
assert (s["env"]["measurement"], s["env"]["field"], s["env"]["unit"]) == ("env", "temp_c", "°C")
# 3000 s of data at 15 s steps, the JSON points every 20 s: one bucket each.
assert len(s["inverter"]["points"]) == 150 and len(s["env"]["points"]) == 150
assert 50 <= len(s["house"]["points"]) <= 201, len(s["house"]["points"])
for p in s["env"]["points"]:
    assert len(p) == 5 and p[1] <= p[3] <= p[2] and p[0] % 15 == 0
EOF
one=$(curl -fsS "$URL/api/history?source=env" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["series"]))')
[ "$one" = 1 ] || fail "/api/history?source=env gave $one series"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/history?source=nope")
[ "$code" = 404 ] || fail "/api/history?source=nope: HTTP $code, want 404"
# Today's energy: the state file is fresh, so today counts from the start
# (all the replayed energy, whatever the local time).
E=$(curl -fsS "$URL/api/status" | python3 -c '
import json, sys
m = [x for x in json.load(sys.stdin)["sources"] if x["name"] == "house"][0]
print(m["energy_today_wh"] == m["energy_wh"] and m["today_since"] > 0)')
[ "$E" = True ] || fail "energy_today_wh is not the replayed energy"
[ -f "$T/state/pulse.house.today" ] || fail "no pulse.house.today in state_dir"

mkdir -p "$T/chromium"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
	--user-data-dir="$T/chromium" --remote-debugging-port=0 about:blank \
	>"$T/chromium.log" 2>&1 &
CPID=$!
has_port() { [ -s "$T/chromium/DevToolsActivePort" ]; }
wait_for 30 has_port || { tail -n 20 "$T/chromium.log"; fail "chromium did not start"; }
DPORT=$(head -n 1 "$T/chromium/DevToolsActivePort")
timeout 120 /usr/bin/python3 tests/page_check.py "$DPORT" "$URL" "$B" || fail "page check"
stop_chromium

# A reload (SIGHUP) keeps the plots of the sources it keeps: the JSON files
# are not read again (their checkpoint), yet their points are all there.
kill -HUP "$PID"
reloaded() { [ "$(json_get "$(curl -fsS "$URL/api/status")" 'd["daemon"]["reloads"]["ok"]')" = 1 ]; }
wait_for 30 reloaded || { tail -n 20 "$T/powerd.log"; fail "no reload"; }
H=$(curl -fsS "$URL/api/history") || fail "GET /api/history after the reload"
P=$(json_get "$H" '[len(s["points"]) for s in d["series"] if s["source"] != "house"]')
[ "$P" = "[150, 150]" ] || fail "after a reload the JSON sources' plots have $P points, want [150, 150]"

kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ $rc -eq 0 ] || { tail -n 20 "$T/powerd.log"; fail "powerd exited $rc"; }
echo "page: ok"
