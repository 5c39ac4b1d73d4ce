#!/usr/bin/env bash
# make bench, the JSON-files source (issue 7): a Power Pod 1 backlog (8,640
# files of 11 records, tools/genpp1.py) read by [json.pp1] into a file sink,
# against `jq -c '.telemetry[]'` over the same files in the same run; and
# powerd's peak RSS for one day and for two days of backlog (it must not
# grow with the backlog), and the demo configuration's idle RSS.
#   tests/bench/json_backlog.sh BUILD_DIR
# Prints one "json_backlog key=value ..." line per measurement.
set -euo pipefail
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PD=$B/powerd
command -v jq >/dev/null || { echo "bench: jq is needed (apt-get install jq)" >&2; exit 1; }
T=$(mktemp -d /tmp/powerd-bench-json-XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"' EXIT
export TZ=UTC

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

run_backlog() { # FILES: prints files/s points/s hwm_kb
	local files=$1 dir=$T/msgs-$1 p t0 t1 st
	python3 "$ROOT/tools/genpp1.py" "$dir" --files "$files" >/dev/null
	p=$(port)
	cat >"$T/pd-$files.conf" <<-EOC
		[daemon]
		state_dir = $T/state-$files
		listen    = 127.0.0.1:$p
		socket    = $T/pd-$files.sock
		[json.pp1]
		path = $dir
		[sink.lp]
		type = file
		path = $T/out-$files.lp
	EOC
	t0=$(now)
	"$PD" -c "$T/pd-$files.conf" 2>"$T/pd-$files.log" &
	PID=$!
	# One small request every 20 ms: the sink's own count of what it wrote.
	for ((i = 0; i < 6000; i++)); do
		sent=$(curl -fsS --max-time 2 "http://127.0.0.1:$p/metrics" 2>/dev/null |
			sed -n 's/^powerd_sink_samples_sent_total{sink="lp"} //p') || true
		[ "${sent:-0}" -ge $((files * 11)) ] && break
		sleep 0.02
	done
	t1=$(now)
	hwm=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
	kill "$PID"; wait "$PID" || true
	PID=
	got=$(grep -c . "$T/out-$files.lp")
	[ "$got" -eq $((files * 11)) ] || { echo "bench: $got of $((files * 11)) points" >&2; exit 1; }
	echo "$(echo "$files / ($t1 - $t0)" | bc -l) $(echo "$got / ($t1 - $t0)" | bc -l) $hwm"
}

read -r fps pps hwm1 < <(run_backlog 8640)
read -r _ _ hwm2 < <(run_backlog 17280)
t0=$(now)
find "$T/msgs-8640" -name 'message_*.json' -print0 | sort -z | xargs -0 jq -c '.telemetry[]' >"$T/jq.out"
t1=$(now)
jq_points=$(wc -l <"$T/jq.out")
[ "$jq_points" -eq $((8640 * 11)) ] || { echo "bench: jq gave $jq_points points" >&2; exit 1; }
jq_fps=$(echo "8640 / ($t1 - $t0)" | bc -l)
jq_pps=$(echo "$jq_points / ($t1 - $t0)" | bc -l)

# The demo configuration, idle, after 5 s.
p=$(port)
sed -e "s|^listen *=.*|listen = 127.0.0.1:$p|" -e "s|^socket *=.*|socket = $T/demo.sock|" \
	-e "s|^state_dir *=.*|state_dir = $T/demo-state|" -e "s|build/demo|$T/demo|g" \
	"$ROOT/examples/demo.conf" >"$T/demo.conf"
(cd "$ROOT" && exec "$PD" -c "$T/demo.conf") 2>"$T/demo.log" &
PID=$!
sleep 5
idle=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
kill "$PID"; wait "$PID" || true
PID=

printf 'json_backlog files_per_s=%.0f points_per_s=%.0f jq_files_per_s=%.0f jq_points_per_s=%.0f ratio=%.2f hwm_kb_1day=%s hwm_kb_2days=%s demo_idle_rss_kb=%s\n' \
	"$fps" "$pps" "$jq_fps" "$jq_pps" "$(echo "$fps / $jq_fps" | bc -l)" "$hwm1" "$hwm2" "$idle"
