#!/bin/bash
# [eg4.NAME] end to end against a fake dongle on loopback (tests/eg4_dongle.py,
# written from PROTOCOLS.md section 1).  Scenario "main": heartbeats echoed
# byte for byte (protocol 5 as 2), garbage and impossible lengths between
# frames, another dongle's reply, another client's reply and every golden
# frame while powerd's request waits (none completes it), unknown functions
# 195/196/197, a bad CRC, a protocol-1 reply, an exception, the 291-byte
# protocol-5 push, a silence longer than the watchdog (powerd reconnects), an
# unanswered request (timeout, the poll goes on), a connection reset
# (reconnect after the backoff).  Every request checked byte for byte
# against PROTOCOLS.md's format; every sample in the file sink against the
# registers the fake served (decoded here from the map, plus lxp-bridge's
# scaling for chosen fields), in order, tags included; every counter exact.
# Scenario "listen": poll = 0, heartbeats = no, no serials configured:
# samples with the learnt serials, and not one byte ever sent to the dongle.
#   tests/t_eg4.sh BUILD_DIR   (PD=... another build, EG4_HOST=... the host)
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=${PD:-$B/asan/powerd}
H=${EG4_HOST:-127.0.0.1} # the dongle's host as configured
[ -x "$PD" ] || PD=$B/powerd
T=$(mktemp -d /tmp/powerd-eg4-XXXXXX)
PID=
FAKE=
cleanup() {
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
	fault_cleanup
}
trap cleanup EXIT

# run SCENARIO EG4_KEYS SAMPLES: the fake and powerd until the fake's script
# is done and the file sink holds SAMPLES lines; leaves metrics, status.
run() {
	local scen=$1 keys=$2 want=$3 dport port
	rm -rf "$T/state" "$T/out.lp" "$T/fake.log" "$T/done" "$T/done.ready"
	dport=$(free_port)
	python3 tests/eg4_dongle.py "$scen" "$dport" "$T/fake.log" "$T/done" 2>>"$T/fake.err" &
	FAKE=$!
	wait_for 10 test -f "$T/done.ready" || fail "the fake dongle did not start: $(cat "$T/fake.err")"
	port=$(free_port)
	URL=http://127.0.0.1:$port
	cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[eg4.house]
host = $H
port = $dport
$keys
[sink.lp]
type = file
path = $T/out.lp
flush_interval = 100ms
EOC
	pd_start "$T/powerd.conf" "$T/powerd.log"
	lines() { grep -c . "$T/out.lp" 2>/dev/null || echo 0; }
	finished() { [ -f "$T/done" ] && [ "$(lines)" -ge "$want" ]; }
	wait_for 60 finished ||
		fail "$scen: done: $([ -f "$T/done" ] && echo yes || echo no), $(lines) of $want samples; $(tail -5 "$T/powerd.log")"
	sleep 0.5 # anything more that would arrive (it must not)
	metrics=$(curl -fsS "$URL/metrics")
	status=$(curl -fsS "$URL/api/status")
	echo "$metrics" >"$T/metrics.txt"
	pd_stop
	sanitizer_clean "$T/powerd.log"
	kill "$FAKE" 2>/dev/null
	wait "$FAKE" 2>/dev/null
	FAKE=
	OUT=$(promtool check metrics <"$T/metrics.txt" 2>&1) || fail "promtool: $OUT"
	[ -z "$OUT" ] || fail "promtool findings: $OUT"
}

# check SCENARIO EXPECTED_JSON: samples against what the fake served,
# counters, and the fake's own findings.
check() {
	python3 - "$1" "$2" "$T/fake.log" "$T/out.lp" "$T/metrics.txt" "$status" \
		share/maps/eg4-input.map <<'EOF' || fail "$1: see above"
import json, re, sys
scen, want = sys.argv[1], json.loads(sys.argv[2])
log = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
out = [l.rstrip("\n") for l in open(sys.argv[4]) if l.strip()]
met = {}
for l in open(sys.argv[5]):
    if not l.startswith("#") and l.strip():
        k, v = l.rsplit(" ", 1)
        met[k] = float(v)
status = {s["name"]: s for s in json.loads(sys.argv[6])["sources"]}["house"]
bad = []

# The map, read here on its own: NAME MEAS TABLE ADDR TYPE [OPT...], derive.
values, derives = [], []
for l in open(sys.argv[7]):
    l = l.split("#")[0].strip()
    if not l or "=" in l.split()[0] or (len(l.split()) > 1 and l.split()[1] == "="):
        continue
    if l.startswith("derive "):
        m = re.match(r"derive (\w+)\.(\w+)\s*=\s*(.*)", l)
        derives.append((m.group(1), m.group(2), m.group(3)))
        continue
    f = l.replace(",", " ").split()
    opts = dict(o.split("=", 1) if "=" in o else (o, True) for o in f[5:])
    values.append(dict(name=f[0], meas=f[1], table=f[2], addr=int(f[3], 0), type=f[4], opts=opts))
meas = []
for v in values:
    if v["meas"] not in meas:
        meas.append(v["meas"])

def width(v):
    if v["type"] in ("u32", "i32", "f32"):
        return 2
    if v["type"] == "ascii":
        return int(v["opts"]["count"])
    return 1

def decode(v, regs):
    t, o = v["type"], v["opts"]
    if t == "ascii":
        s = b""
        for r in regs:
            s += bytes([r & 0xFF, r >> 8]) if o.get("order") == "ba" else bytes([r >> 8, r & 0xFF])
        return ("s", s.split(b"\0")[0].decode().strip())
    if t in ("u16", "i16"):
        x = regs[0]
        if t == "i16" and x >= 0x8000:
            x -= 0x10000
    elif t in ("u8",):
        x = regs[0] & 0xFF if o.get("byte") == "lo" else regs[0] >> 8
    elif t == "u32":
        x = (regs[1] << 16 | regs[0]) if o.get("order") == "cdab" else (regs[0] << 16 | regs[1])
    else:
        raise Exception("type " + t)
    if "scale" in o:
        inv = round(1 / float(o["scale"]))
        return ("f", x / inv)
    return ("i", x)

def expected(rep):
    table = "input" if rep["fn"] == 4 else "holding"
    lo, hi = rep["start"], rep["start"] + len(rep["vals"])
    res = []
    for m in meas:
        fields = {}
        for v in values:
            if v["meas"] == m and v["table"] == table and v["addr"] >= lo and v["addr"] + width(v) <= hi:
                fields[v["name"]] = decode(v, rep["vals"][v["addr"] - lo:v["addr"] - lo + width(v)])
        if not fields:
            continue
        for dm, name, expr in derives:
            if dm != m:
                continue
            terms = re.findall(r"([+-]?)\s*" + dm + r"\.(\w+)", expr)
            if all(t[1] in fields for t in terms):
                x = 0.0
                for sign, ref in terms:
                    x = x - fields[ref][1] if sign == "-" else x + fields[ref][1]
                fields[name] = ("f", float(x))
        tags = {"source": "house", "datalog": rep["datalog"], "inverter": rep["serial"]}
        res.append((m, tags, fields))
    return res

def parse_lp(line):
    m = re.match(r'^([^, ]+)((?:,[^ ]+)?) (.*) (\d+)$', line)
    tags = dict(t.split("=", 1) for t in m.group(2).split(",")[1:])
    fields = {}
    for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,]+)', m.group(3)):
        if v.startswith('"'):
            fields[k] = ("s", v[1:-1])
        elif v.endswith("i"):
            fields[k] = ("i", int(v[:-1]))
        else:
            fields[k] = ("f", float(v))
    return m.group(1), tags, fields

exp = []
for r in log:
    if r.get("dir") == "tx" and r.get("fn") in (3, 4):
        exp += expected(r)
got = [parse_lp(l) for l in out]
if len(got) != len(exp):
    bad.append("%d samples, want %d" % (len(got), len(exp)))
for i, (g, e) in enumerate(zip(got, exp)):
    if g != e and len(bad) < 4:
        diff = {k: (g[2].get(k), e[2].get(k)) for k in set(g[2]) | set(e[2]) if g[2].get(k) != e[2].get(k)}
        bad.append("sample %d: %s %s, want %s %s; fields differing %s" % (i, g[0], g[1], e[0], e[1], diff))

# lxp-bridge's scaling on chosen fields, independently of the map.
def field(i, k):
    return got[i][2].get(k, (None, None))[1] if i < len(got) else None
for i, k, v in want.get("spot", []):
    if field(i, k) != v:
        bad.append("sample %d: %s = %r, want %r" % (i, k, field(i, k), v))

for r in log:
    if r.get("what") == "unexpected":
        bad.append("the fake: %s" % r)
for k, v in want.get("eof_rx", {}).items():
    got_rx = [r["rx_bytes"] for r in log if r.get("what") == "eof" and r["conn"] == int(k)]
    if got_rx != [v]:
        bad.append("conn %s: powerd sent %s bytes, want %d" % (k, got_rx, v))

labels = '{source="house"}'
for k, v in want["metrics"].items():
    if met.get(k + labels) != v:
        bad.append("%s = %s, want %s" % (k, met.get(k + labels), v))
errs = {k: v for k, v in status["errors"].items() if v}
if errs != want["errors"]:
    bad.append("errors %s, want %s" % (errs, want["errors"]))
for k, v in want["errors"].items():
    m = 'powerd_source_errors_total{source="house",kind="eg4",reason="%s"}' % k
    if met.get(m) != v:
        bad.append("%s = %s, want %s" % (m, met.get(m), v))
if met.get('powerd_source_samples_total{source="house",kind="eg4"}') != len(exp):
    bad.append("samples_total %s, want %d" % (met.get('powerd_source_samples_total{source="house",kind="eg4"}'), len(exp)))
for k, v in want["status"].items():
    if status["eg4"].get(k) != v:
        bad.append("status eg4.%s = %r, want %r" % (k, status["eg4"].get(k), v))
for b in bad:
    print(scen + ": " + b)
sys.exit(1 if bad else 0)
EOF
}

run main "datalog = 2222222222
inverter = 5555555555
poll = 1h
heartbeats = yes
watchdog = 3s
timeout = 1s
reconnect_min = 200ms
reconnect_max = 400ms" 14
check main '{
 "metrics": {"powerd_eg4_connects_total": 3, "powerd_eg4_frames_total": 25,
  "powerd_eg4_heartbeats_total": 3, "powerd_eg4_heartbeats_echoed_total": 3,
  "powerd_eg4_polls_total": 3, "powerd_eg4_requests_total": 12,
  "powerd_eg4_replies_total": 11, "powerd_eg4_foreign_replies_total": 6,
  "powerd_eg4_pushes_total": 1, "powerd_eg4_connected": 1},
 "errors": {"garbage": 21, "too_long": 1, "too_short": 1, "unknown_function": 3,
  "bad_crc": 1, "exception": 1, "timeout": 1, "watchdog": 1, "disconnected": 1,
  "datalog_mismatch": 1, "inverter_mismatch": 1},
 "status": {"datalog": "2222222222", "inverter": "5555555555", "connected": true,
  "host": "'"$H"'"},
 "spot": [[3, "v_pv_1", 345.7], [3, "soc", 81], [3, "soh", 100], [3, "p_pv", 2227.0],
  [3, "p_battery", 480.0], [3, "p_grid", -255.0], [3, "f_ac", 60.01], [3, "pf", 0.998],
  [2, "time_year", 22], [2, "time_month", 6], [2, "time_day", 20], [2, "time_hour", 5],
  [2, "time_minute", 16], [2, "time_second", 57],
  [4, "e_pv_all_1", 7019.6], [4, "e_pv_all_2", 6553.5], [4, "t_bat", -5],
  [6, "e_pv_all_1", 7019.6], [6, "t_bat", -5], [6, "bat_current", -12.34],
  [6, "max_chg_curr", 66.0], [6, "max_cell_voltage", 3.412], [6, "max_cell_temp", -1.0],
  [6, "serial", "2043022401"], [6, "e_gen_all", 6553.8], [6, "v_pv_1", 345.8],
  [6, "p_pv", 2228.0], [6, "runtime", 1201784]]
}'
grep -q "no frame from $H:[0-9]* for 3 s: connecting again" "$T/powerd.log" ||
	fail "the watchdog's log line: $(grep eg4 "$T/powerd.log" | tail -5)"
[ "$(grep -c 'datalog 3333333333' "$T/powerd.log")" = 1 ] || fail "the datalog mismatch warned not once"

run listen "poll = 0
heartbeats = no" 2
check listen '{
 "metrics": {"powerd_eg4_connects_total": 1, "powerd_eg4_frames_total": 4,
  "powerd_eg4_heartbeats_total": 2, "powerd_eg4_heartbeats_echoed_total": 0,
  "powerd_eg4_polls_total": 0, "powerd_eg4_requests_total": 0,
  "powerd_eg4_replies_total": 0, "powerd_eg4_foreign_replies_total": 2,
  "powerd_eg4_pushes_total": 1},
 "errors": {},
 "status": {"datalog": "BA12345678", "inverter": "2043022401"},
 "eof_rx": {"1": 0},
 "spot": [[0, "serial", "2043022401"], [0, "v_pv_1", 346.1], [1, "soc", 86]]
}'
echo "ok"
