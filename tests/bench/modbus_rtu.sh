#!/usr/bin/env bash
# make bench, the Modbus RTU source (issue 10): polls a second on a 9600
# 8N1 line against the most the line allows.  The line is a pseudo-terminal
# served by tests/rtu_server.py, which holds the master to the serial
# line's timing: it takes a request only after the request's transmission
# time and 3.5 characters of silence, drops one that starts less than 3.5
# characters after its last reply (dropped_early) or has a gap of more than
# 1.5 characters inside (dropped_gap), and sends each reply after its own
# transmission time.  So one poll (a read of 20 registers: an 8-byte
# request, a 45-byte reply) takes at least
#   (8 + 45) bytes x 10 bits / 9600 bit/s + 2 x 3.5 characters = 62.5 ms,
# 16.0 polls/s: the physical maximum, computed below from the frame sizes.
# powerd polls with interval = 10 ms (always behind: every poll starts as
# soon as the last one ended and the next tick comes, the rest counted as
# overruns); then, for as long each, modpoll (the same Modbus core, plain
# blocking I/O) back to back and mbpoll (libmodbus) at -l 10, as
# references.  Figures only, no timed assertion.
#   tests/bench/modbus_rtu.sh BUILD_DIR
# Environment: BENCH_RTU_SECONDS (default 20), BENCH_RTU_BAUD (9600),
# BENCH_RTU_REGISTERS (20).  Prints "bench modbus_rtu_... key=value" lines.
set -euo pipefail
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PD=$B/powerd
MP=$B/modpoll
RS=$ROOT/tests/rtu_server.py
SECS=${BENCH_RTU_SECONDS:-20}
BAUD=${BENCH_RTU_BAUD:-9600}
NREG=${BENCH_RTU_REGISTERS:-20}
T=$(mktemp -d /tmp/powerd-bench-rtu-XXXXXX)
PID= SP=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; [ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$T"' EXIT
. "$ROOT/tests/lib.sh" # free_port, free_ports
fail() {
	echo "bench modbus_rtu: $*" >&2
	exit 1
}
for f in "$PD" "$MP"; do
	[ -x "$f" ] || fail "$f missing: run 'make all' first"
done
[ -f "$RS" ] || fail "$RS missing"
[ "$NREG" -ge 1 ] && [ "$NREG" -le 125 ] || fail "BENCH_RTU_REGISTERS: 1-125"
now() { echo "$EPOCHREALTIME"; }

# The physical maximum: 8N1 is 10 bits a character.
BITS=10
REQ=8 REP=$((5 + 2 * NREG))
POLL_S=$(echo "(($REQ + $REP) * $BITS + 2 * 3.5 * $BITS) / $BAUD" | bc -l)
MAX_PPS=$(echo "1 / $POLL_S" | bc -l)

{
	printf 'holding 0'
	for ((i = 0; i < NREG; i++)); do printf ' %d' $((2000 + i)); done
	printf '\n'
} >"$T/regs"
{
	echo "# the bench's map: $NREG registers in one read"
	for ((i = 0; i < NREG; i++)); do echo "v$i bench holding $i u16"; done
} >"$T/bench.map"

# serve TAG: a fresh line (its statistics are one contender's)
serve() {
	rm -f "$T/tty" "$T/$1.ready"
	python3 "$RS" --link "$T/tty" --baud "$BAUD" --unit 1 --regs "$T/regs" \
		--ready "$T/$1.ready" --stats "$T/$1.stats" 2>"$T/$1.srv.err" &
	SP=$!
	for ((i = 0; i < 100; i++)); do [ -e "$T/$1.ready" ] && break; sleep 0.1; done
	[ -e "$T/$1.ready" ] || fail "rtu_server.py did not start: $(cat "$T/$1.srv.err")"
}
# unserve TAG: stop it; $T/TAG.sum: frames answered dropped_early dropped_gap min_silence_chars
unserve() {
	local i
	kill "$SP"
	# An idle server sleeps in select() until a byte comes: one wakes it.
	printf '\0' >"$T/tty" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do kill -0 "$SP" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$SP" 2>/dev/null || true
	wait "$SP" || true
	SP=
	[ -s "$T/$1.stats" ] || fail "rtu_server.py wrote no statistics: $(cat "$T/$1.srv.err")"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
m = d["min_silence_after_reply_chars"]
print(d["frames"], d["answered"], d["dropped_early"], d["dropped_gap"], "-" if m is None else "%.2f" % m)' \
		"$T/$1.stats" >"$T/$1.sum"
}

# ------------------------------------------------------------ powerd
serve pd
hp=$(free_port)
printf '[daemon]\nstate_dir = %s\nlisten = 127.0.0.1:%s\nsocket = %s\n[modbus.r]\nurl = rtu://%s\nbaud = %s\ninterval = 10ms\ntimeout = 1s\nmap = %s\n[sink.lp]\ntype = file\npath = %s\n' \
	"$T/state" "$hp" "$T/pd.sock" "$T/tty" "$BAUD" "$T/bench.map" "$T/pd.lp" >"$T/pd.conf"
"$PD" -c "$T/pd.conf" 2>"$T/pd.log" &
PID=$!
M=http://127.0.0.1:$hp/metrics
for ((i = 0; i < 100; i++)); do
	curl -fsS --max-time 1 "$M" >/dev/null 2>&1 && break
	kill -0 "$PID" 2>/dev/null || fail "powerd exited: $(tail -5 "$T/pd.log")"
	sleep 0.1
done
sleep 2
sums() { # replies errors-but-overruns overruns
	curl -fsS --max-time 5 "$M" | awk '
		/^powerd_modbus_replies_total\{source="r"/ { r += $2 }
		/^powerd_source_errors_total\{source="r",kind="modbus"/ {
			if ($0 ~ /reason="overrun"/) o += $2; else e += $2 }
		END { printf "%d %d %d\n", r, e, o }'
}
read -r r0 _ o0 < <(sums)
t0=$(now)
sleep "$SECS"
t1=$(now)
read -r r1 e1 o1 < <(sums)
kill "$PID"
wait "$PID" || true
PID=
unserve pd
read -r frames answered early gap quiet <"$T/pd.sum"
[ "$r1" -gt 0 ] || fail "powerd got no replies: $(tail -5 "$T/pd.log")"
# every sample in the sink holds the registers
bad=$(awk -v n="$NREG" '{ k = split($2, f, ","); ok = k == n
	for (i = 1; i <= k; i++) { split(f[i], kv, "="); if (kv[2] != (2000 + substr(kv[1], 2)) "i") ok = 0 }
	if (!ok) bad++ } END { print bad + 0 }' "$T/pd.lp")
[ "$bad" = 0 ] || fail "$bad samples in the sink do not hold the registers"
dt=$(echo "$t1 - $t0" | bc -l)
pps=$(echo "($r1 - $r0) / $dt" | bc -l)
printf 'bench modbus_rtu_powerd baud=%d registers=%d request_bytes=%d reply_bytes=%d physical_poll_ms=%.2f physical_polls_per_s=%.2f polls_per_s=%.2f of_physical_pct=%.1f errors=%d overruns=%d server_frames=%d dropped_early=%d dropped_gap=%d min_silence_after_reply_chars=%s\n' \
	"$BAUD" "$NREG" $REQ $REP "$(echo "$POLL_S * 1000" | bc -l)" "$MAX_PPS" "$pps" \
	"$(echo "$pps * 100 / $MAX_PPS" | bc -l)" "$e1" $((o1 - o0)) "$frames" "$early" "$gap" "$quiet"

# ------------------------------------------------------------ modpoll, back to back
serve mp
t0=$(now)
timeout -s INT "$SECS" "$MP" "rtu://$T/tty" --baud "$BAUD" --read holding 0 "$NREG" --count 0 \
	--interval 0s >"$T/mp.out" 2>"$T/mp.err" || true
t1=$(now)
unserve mp
read -r frames answered early gap quiet <"$T/mp.sum"
polls=$(grep -c '^0 ' "$T/mp.out" || true)
dt=$(echo "$t1 - $t0" | bc -l)
mpps=$(echo "$polls / $dt" | bc -l)
printf 'bench modbus_rtu_modpoll polls_per_s=%.2f of_physical_pct=%.1f failed=%d server_frames=%d dropped_early=%d dropped_gap=%d min_silence_after_reply_chars=%s\n' \
	"$mpps" "$(echo "$mpps * 100 / $MAX_PPS" | bc -l)" "$(grep -c '^modpoll:' "$T/mp.err" || true)" \
	"$frames" "$early" "$gap" "$quiet"

# ------------------------------------------------------------ mbpoll -l 10
# libmodbus over the same line, its shortest poll rate.
if command -v mbpoll >/dev/null; then
	serve mb
	t0=$(now)
	timeout -s INT "$SECS" stdbuf -oL mbpoll -q -m rtu -b "$BAUD" -P none -d 8 -s 1 -a 1 -0 -r 0 \
		-c "$NREG" -l 10 "$T/tty" >"$T/mb.out" 2>&1 || true
	t1=$(now)
	unserve mb
	read -r frames answered early gap quiet <"$T/mb.sum"
	polls=$(grep -c '^\[0\]:' "$T/mb.out" || true)
	dt=$(echo "$t1 - $t0" | bc -l)
	bpps=$(echo "$polls / $dt" | bc -l)
	printf 'bench modbus_rtu_mbpoll polls_per_s=%.2f of_physical_pct=%.1f server_frames=%d dropped_early=%d dropped_gap=%d min_silence_after_reply_chars=%s\n' \
		"$bpps" "$(echo "$bpps * 100 / $MAX_PPS" | bc -l)" "$frames" "$early" "$gap" "$quiet"
fi
