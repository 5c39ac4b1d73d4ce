#!/bin/bash
# [http.NAME] end to end: powerd polls a fake PowMr dongle (tests/http_fake.py,
# seed 003's /api/status, values that change per request, valid_info 0 on
# every third) at 500 ms, flat, with valid = inverter.valid_info = 1, into a
# file sink.  The file holds exactly the valid polls' samples (the values the
# server logged it served), none of the invalid ones, which /metrics counts
# as invalid.  Each poll takes 100 ms at the server, so a poller that waits
# an interval after each poll drifts 100 ms a poll: the k-th poll must start
# within a generous 250 ms of t0 + k * 500 ms (a fixed grid does not drift).
# A slow endpoint (answers after 2.5 intervals) never has two requests in
# flight (the server counts them) and its skipped ticks count as overrun.
# The URL's user:password never shows in the log, /api/status or /metrics.
#   tests/t_http_source.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
[ -x "$PD" ] || PD=$B/powerd
T=$(mktemp -d /tmp/powerd-http-XXXXXX)
PID=
trap fault_cleanup EXIT
fake_start
port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[http.powmr]
url      = http://powerd:secretpw@${D#http://}/status?delay=0.1
interval = 500ms
timeout  = 2s
format   = flat
valid    = inverter.valid_info = 1
[http.slow]
url      = $D/slow?d=1.25
interval = 500ms
timeout  = 5s
format   = flat
[sink.lp]
type = file
path = $T/out.lp
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
served() { python3 -c 'import json,sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["path"] == "/status"))' "$T/fake.log"; }
enough() { [ "$(served)" -ge 14 ]; }
wait_for 30 enough || fail "the device served $(served) polls, want 14"
metrics=$(curl -fsS "$URL/metrics")
state=$(curl -fsS "$URL/api/status")
pd_stop
sanitizer_clean "$T/powerd.log"
grep -q secretpw "$T/powerd.log" && fail "the URL's password in the log"
case "$state$metrics" in *secretpw*) fail "the URL's password on /api/status or /metrics" ;; esac

echo "$metrics" | grep 'kind="http"' >"$T/metrics.http"
python3 - "$T/fake.log" "$T/out.lp" "$T/metrics.http" "$state" <<'EOF' || fail "see above"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
lines = [l.split() for l in open(sys.argv[2]) if l.strip()]
met = {}
for l in open(sys.argv[3]):
    k, v = l.rsplit(" ", 1)
    met[k] = float(v)
state = {s["name"]: s for s in json.loads(sys.argv[4])["sources"]}
bad = []
st = [r for r in log if r["path"] == "/status"]
# The samples: ac.output_watts = 300 + n for each poll n used.
ow = [int(f.split("=")[1].rstrip("i")) for m, fields, ts in lines if m == "ac"
      for f in fields.split(",") if f.startswith("output_watts=")]
got = sorted(w - 300 for w in ow if w < 10000)  # /slow's are 10000 + n
valid = sorted(r["n"] for r in st if r["valid"])
invalid = sorted(r["n"] for r in st if not r["valid"])
last = max(r["n"] for r in st)
# At the stop the sink's last batch may be spooled, not yet written (sent at
# the next start): only the tail may be missing.
missing = [n for n in valid if n not in got and got and n < max(got)]
extra = [n for n in got if n not in valid]
if missing or extra or len(got) < len(valid) - 4:
    bad.append("file sink: valid polls %s, got %s (missing %s, extra %s)" % (valid, got, missing, extra))
by_ts = {}
for l in lines:
    by_ts.setdefault(l[-1], set()).add(l[0])
for ts in sorted(by_ts)[:-1]:  # the last poll may be cut by the stop, as above
    if by_ts[ts] != {"ac", "dc", "inverter"}:
        bad.append("a poll gave %s, not ac, dc and inverter" % sorted(by_ts[ts]))
key = 'powerd_source_errors_total{source="powmr",kind="http",reason="invalid"}'
inv = met.get(key, 0)
# /metrics was read while polls went on: the invalid ones it may not have seen yet are the last.
if not (len([n for n in invalid if n < last - 2]) <= inv <= len(invalid)):
    bad.append("%s = %d, the device served %d invalid ones (valid = not implemented yet?)" % (key, inv, len(invalid)))
# The fixed grid: poll k starts within 250 ms of t0 + k * 0.5 s.
t0 = st[0]["t0"]
for r in st:
    k = round((r["t0"] - t0) / 0.5)
    off = r["t0"] - t0 - k * 0.5
    if abs(off) > 0.25 or k != r["n"]:
        bad.append("poll %d started %.3f s after t0: tick %d, off by %.3f s (drift or a skipped tick)" % (r["n"], r["t0"] - t0, k, off))
        break
# The slow device: never two requests at once, the skipped ticks counted.
sl = [r for r in log if r["path"] == "/slow"]
if not sl or max(r["max_conc"] for r in sl) != 1:
    bad.append("slow: %s concurrent requests" % (max(r["max_conc"] for r in sl) if sl else "no"))
ov = met.get('powerd_source_errors_total{source="slow",kind="http",reason="overrun"}', 0)
if ov < 4:
    bad.append("slow: %d overruns counted, want several" % ov)
if met.get('powerd_source_up{source="powmr",kind="http"}') != 1:
    bad.append("powmr is not up: %s" % state.get("powmr"))
if "last poll" not in state["powmr"]["detail"]:
    bad.append("powmr's detail: %r" % state["powmr"]["detail"])
for b in bad:
    print("FAIL:", b)
print("polls %d (valid %d, used %d, invalid %d counted %d), slow: %d polls, %d overruns" %
      (len(st), len(valid), len(got), len(invalid), inv, len(sl), ov))
sys.exit(1 if bad else 0)
EOF
echo "PASS"
