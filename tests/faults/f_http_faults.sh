#!/bin/bash
# Fault: hostile HTTP devices ([http.NAME]).  Six sources poll endpoints of
# tests/http_fake.py that never answer, answer 500, close mid-body, send
# 50 MB, send invalid JSON, redirect (not followed by default).  Each poll is
# counted under its reason on /metrics (timeout, http_status, transfer,
# too_large, not_json, redirect) and gives nothing; powerd survives; a good
# HTTP source next to them keeps producing; powerd's own HTTP status endpoint
# answers every time it is asked; and a pulse replay (10 flashes a second,
# real time) keeps its timing: the I/O thread never stalls, so its last
# sample is never more than a generous 2 s old while the faults go on.
#   tests/faults/f_http_faults.sh BUILD_DIR
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=${PD:-$B/asan/powerd}
[ -x "$PD" ] || PD=$B/powerd
T=$(mktemp -d /tmp/powerd-httpf-XXXXXX)
PID=
trap fault_cleanup EXIT
fake_start
python3 tools/gentrace.py --profile constant:36000 --seconds 120 --seed 3 -o "$T/trace.txt" \
	2>/dev/null || fail gentrace
port=$(free_port)
URL=http://127.0.0.1:$port
{
	cat <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[pulse.m]
replay           = $T/trace.txt
speed            = 1
impulses_per_kwh = 1000
[http.good]
url      = $D/good
interval = 500ms
format   = flat
[sink.lp]
type = file
path = $T/out.lp
EOC
	for e in hang:500ms 500:500ms cut:500ms big:2s notjson:500ms redirect:500ms; do
		printf '[http.f_%s]\nurl = %s/%s\ninterval = %s\ntimeout = 2s\nformat = flat\n' \
			"${e%%:*}" "$D" "${e%%:*}" "${e#*:}"
	done
} >"$T/powerd.conf"
pd_start "$T/powerd.conf" "$T/powerd.log"
good0=$(m 'powerd_source_samples_total{source="good",kind="http"}')
# 12 s of faults: the status endpoint asked 4 times a second, the replay's
# lag measured each time.
python3 - "$URL" 12 >"$T/lag.txt" <<'EOF' || fail "status endpoint: $(tail -3 "$T/lag.txt")"
import sys, time, urllib.request
url, secs = sys.argv[1], float(sys.argv[2])
end = time.time() + secs
worst, n = 0.0, 0
while time.time() < end:
    t = time.time()
    with urllib.request.urlopen(url + "/metrics", timeout=3) as r:
        body = r.read().decode()
    for l in body.splitlines():
        if l.startswith('powerd_source_last_sample_timestamp_seconds{source="m"'):
            v = float(l.rsplit(" ", 1)[1])
            if v > 0 and n > 4:  # after the replay's first second
                worst = max(worst, t - v)
    n += 1
    time.sleep(0.25)
print("%d status reads, worst replay lag %.3f s" % (n, worst))
EOF
cat "$T/lag.txt"
kill -0 "$PID" || fail "powerd died"
good1=$(m 'powerd_source_samples_total{source="good",kind="http"}')
metrics=$(curl -fsS "$URL/metrics")
curl -fsS --max-time 3 "$URL/api/status" >/dev/null || fail "/api/status does not answer"
pd_stop
sanitizer_clean "$T/powerd.log"
lag=$(awk '{ print $NF == "s" ? $(NF-1) : $NF }' "$T/lag.txt")
awk -v l="$lag" 'BEGIN { exit !(l < 2.0) }' || fail "the replay lagged $lag s during the faults"
# 12 s at 500 ms: 24 polls of 3 samples; at least half of them.
[ $((good1 - good0)) -ge 36 ] || fail "the good source made $((good1 - good0)) samples in 12 s"
for want in f_hang:timeout f_500:http_status f_cut:transfer f_big:too_large f_notjson:not_json \
	f_redirect:redirect; do
	src=${want%%:*} reason=${want#*:}
	v=$(echo "$metrics" | awk -v k="powerd_source_errors_total{source=\"$src\",kind=\"http\",reason=\"$reason\"}" \
		'$1 == k { print $2 }')
	[ "${v:-0}" -ge 1 ] || fail "$src: no '$reason' counted: $(echo "$metrics" | grep "source=\"$src\"")"
	s=$(echo "$metrics" | awk -v k="powerd_source_samples_total{source=\"$src\",kind=\"http\"}" '$1 == k { print $2 }')
	[ "${s:-0}" = 0 ] || fail "$src made $s samples"
	echo "$src: $v x $reason"
done
# No endpoint ever had two polls at once (the hanging one's end at their timeout, unlogged).
python3 - "$T/fake.log" <<'EOF' || fail "requests stacked"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["max_conc"] > 1 and r["path"] != "/hang":
        sys.exit("%s: %d at once" % (r["path"], r["max_conc"]))
EOF
[ "$(log_lines "$T/powerd.log")" -lt 60 ] || fail "$(log_lines "$T/powerd.log") log lines: not rate-limited"
echo PASS
