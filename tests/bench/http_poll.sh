#!/usr/bin/env bash
# make bench, the HTTP source: how many polls a second one I/O thread
# sustains with 100 [http] sources at a 100 ms interval (1,000 wanted)
# against a local keep-alive server (tests/bench/http_static.py, seed 003's
# PowMr document, flat: 3 samples a poll, into a file sink), and meanwhile
# the pulse path's latency: a replay at real time (10 flashes a second)
# whose last sample's age on /metrics is read every 200 ms, against the
# same replay alone.  Then a shell loop of `curl` over the same 100 URLs
# for the same time.  Figures only, no timed assertion.
#   tests/bench/http_poll.sh BUILD_DIR
# Environment: BENCH_HTTP_SECONDS (default 10), BENCH_HTTP_SOURCES (100).
# Prints one "bench http_... key=value" line per measurement.
set -euo pipefail
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PD=$B/powerd
SECS=${BENCH_HTTP_SECONDS:-10}
N=${BENCH_HTTP_SOURCES:-100}
T=$(mktemp -d /tmp/powerd-bench-http-XXXXXX)
PID=
SRV=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

python3 "$ROOT/tests/bench/http_static.py" --port-file "$T/srv.port" >"$T/srv.out" 2>"$T/srv.err" &
SRV=$!
for ((i = 0; i < 100; i++)); do [ -s "$T/srv.port" ] && break; sleep 0.1; done
S=http://127.0.0.1:$(cat "$T/srv.port")
python3 "$ROOT/tools/gentrace.py" --profile constant:36000 --seconds $((SECS * 3 + 60)) --seed 5 \
	-o "$T/trace.txt" 2>/dev/null

conf() { # conf NAME HTTP_SOURCES
	local p
	p=$(port)
	{
		printf '[daemon]\nstate_dir = %s\nlisten = 127.0.0.1:%s\nsocket = %s\n' \
			"$T/state-$1" "$p" "$T/$1.sock"
		printf '[pulse.m]\nreplay = %s\nspeed = 1\nimpulses_per_kwh = 1000\n' "$T/trace.txt"
		for ((i = 0; i < $2; i++)); do
			printf '[http.h%d]\nurl = %s/s/%d\ninterval = 100ms\ntimeout = 5s\nformat = flat\n' \
				"$i" "$S" "$i"
		done
		printf '[sink.lp]\ntype = file\npath = %s\n' "$T/$1.lp"
	} >"$T/$1.conf"
	echo "$p"
}

# run NAME HTTP_SOURCES: prints polls/s, overruns, CPU %, replay lag mean and max (s)
run() {
	local p t0 t1 c0 c1 s0 s1 o1
	p=$(conf "$1" "$2")
	"$PD" -c "$T/$1.conf" 2>"$T/$1.log" &
	PID=$!
	for ((i = 0; i < 100; i++)); do
		curl -fsS --max-time 1 "http://127.0.0.1:$p/metrics" >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 2 # the replay's first flashes, the connections made
	sums() { curl -fsS --max-time 5 "http://127.0.0.1:$p/metrics" | awk '
		/^powerd_source_samples_total\{source="h/ { s += $2 }
		/^powerd_source_errors_total\{source="h[0-9]*",kind="http",reason="overrun"\}/ { o += $2 }
		END { printf "%d %d\n", s, o }'; }
	read -r s0 _ < <(sums)
	c0=$(ticks "$PID")
	t0=$(date +%s.%N)
	lag=$(python3 - "http://127.0.0.1:$p/metrics" "$SECS" <<-'EOF'
		import sys, time, urllib.request
		url, secs = sys.argv[1], float(sys.argv[2])
		end, lags = time.time() + secs, []
		while time.time() < end:
		    t = time.time()
		    body = urllib.request.urlopen(url, timeout=5).read().decode()
		    for l in body.splitlines():
		        if l.startswith('powerd_source_last_sample_timestamp_seconds{source="m"'):
		            lags.append(t - float(l.rsplit(" ", 1)[1]))
		    time.sleep(0.2)
		print("%.3f %.3f" % (sum(lags) / len(lags), max(lags)))
	EOF
	)
	t1=$(date +%s.%N)
	c1=$(ticks "$PID")
	read -r s1 o1 < <(sums)
	kill "$PID"
	wait "$PID" || true
	PID=
	awk -v s="$((s1 - s0))" -v dt="$(echo "$t1 - $t0" | bc -l)" -v c="$((c1 - c0))" \
		-v hz="$(getconf CLK_TCK)" -v o="$o1" -v lag="$lag" \
		'BEGIN { printf "%.0f %d %.0f %s\n", s / 3 / dt, o, c * 100 / hz / dt, lag }'
}

read -r _ _ cpu0 lag0 lagmax0 < <(run alone 0)
read -r pps over cpu lag lagmax < <(run poll "$N")
echo "bench http_replay_alone replay_lag_mean_s=$lag0 replay_lag_max_s=$lagmax0 cpu_pct=$cpu0"
echo "bench http_poll sources=$N interval_ms=100 wanted_polls_per_s=$((N * 10)) polls_per_s=$pps" \
	"overruns=$over cpu_pct=$cpu replay_lag_mean_s=$lag replay_lag_max_s=$lagmax"

# The same URLs, one curl process per poll, in a shell loop, as long.
end=$(($(date +%s%N) + SECS * 1000000000))
n=0
while [ "$(date +%s%N)" -lt $end ]; do
	for ((i = 0; i < N; i++)); do
		curl -fsS -o /dev/null "$S/s/$i" && n=$((n + 1))
	done
done
cps=$(echo "$n / $SECS" | bc -l)
printf 'bench http_curl_loop sources=%d polls_per_s=%.0f\n' "$N" "$cps"
printf 'bench http_ratio powerd_over_curl=%.1f\n' "$(echo "$pps / $cps" | bc -l)"
