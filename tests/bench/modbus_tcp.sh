#!/usr/bin/env bash
# make bench, the Modbus TCP source (issue 10): how many polls a second one
# I/O thread sustains with 32 [modbus.NAME] sections, each polling its own
# device (libmodbus's server, tests/modbus_server: 32 devices on 32
# loopback ports in one process) at a 10 ms interval with a map of 20
# registers (one read; register 0 is the device's index, so every sample
# says which device answered), into a file sink.  Every reply is checked by
# powerd (modbus.h), every sample written is checked here (its device and
# its 20 values), and errors other than overruns must stay 0.  Against it,
# in the same run and for as long: mbpoll (what a user runs) polling the
# same 32 devices one after another, one process per poll (mbpoll -1), its
# output checked the same way (and modpoll in the same loop, which does
# not pause 20 ms after connecting as mbpoll does); and 32 mbpoll processes
# polling a device each at their fastest (-l 10), for the CPU a poll costs
# without a process per poll.  CPU per poll from /proc/PID/stat (utime + stime) over the
# window.  Figures only, no timed assertion.
#   tests/bench/modbus_tcp.sh BUILD_DIR
# Environment: BENCH_MODBUS_SECONDS (default 10), BENCH_MODBUS_DEVICES (32),
# BENCH_MODBUS_INTERVAL (10ms).  Prints "bench modbus_tcp_... key=value" lines.
set -euo pipefail
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PD=$B/powerd
MPL=$B/modpoll
SRV=$B/tests/modbus_server
SECS=${BENCH_MODBUS_SECONDS:-10}
N=${BENCH_MODBUS_DEVICES:-32}
IV=${BENCH_MODBUS_INTERVAL:-10ms}
NREG=20
case $IV in
*ms) IV_S=$(echo "${IV%ms} / 1000" | bc -l) ;;
*s) IV_S=${IV%s} ;;
*) echo "bench modbus_tcp: BENCH_MODBUS_INTERVAL: 10ms, 1s, ..." >&2 && exit 1 ;;
esac
T=$(mktemp -d /tmp/powerd-bench-modbus-XXXXXX)
PID= SP= MPIDS=()
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	for p in "${MPIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$SP" ] && kill "$SP" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
. "$ROOT/tests/lib.sh" # free_port, free_ports
fail() {
	echo "bench modbus_tcp: $*" >&2
	exit 1
}
for f in "$PD" "$MPL" "$SRV"; do
	[ -x "$f" ] || fail "$f missing: run 'make all bench-bins' (modbus_server needs libmodbus-dev)"
done
command -v mbpoll >/dev/null || fail "mbpoll is needed (tools/install-deps.sh bench)"
[ "$N" -ge 1 ] && [ "$N" -le 256 ] || fail "BENCH_MODBUS_DEVICES: 1-256"

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
now() { echo "$EPOCHREALTIME"; }
HZ=$(getconf CLK_TCK)

# Registers 1-19 hold 1001-1019; register 0 is the device's index (the server's).
{
	printf 'holding 1'
	for ((i = 1; i < NREG; i++)); do printf ' %d' $((1000 + i)); done
	printf '\n'
} >"$T/regs"
{
	echo "# the bench's map: $NREG registers in one read"
	echo "dev bench holding 0 u16"
	for ((i = 1; i < NREG; i++)); do echo "v$i bench holding $i u16"; done
} >"$T/bench.map"
P=$(free_ports "$N")
[ -n "$P" ] || fail "no $N consecutive free ports"
"$SRV" --port "$P" --count "$N" --regs "$T/regs" --ready "$T/srv.ready" 2>"$T/srv.err" &
SP=$!
for ((i = 0; i < 100; i++)); do [ -e "$T/srv.ready" ] && break; sleep 0.1; done
[ -e "$T/srv.ready" ] || fail "modbus_server did not start: $(cat "$T/srv.err")"

# ------------------------------------------------------------ powerd
hp=$(free_port)
{
	printf '[daemon]\nstate_dir = %s\nlisten = 127.0.0.1:%s\nsocket = %s\n' "$T/state" "$hp" "$T/pd.sock"
	for ((i = 0; i < N; i++)); do
		printf '[modbus.d%d]\nurl = tcp://127.0.0.1:%d\ninterval = %s\ntimeout = 1s\nmap = %s\n' \
			"$i" $((P + i)) "$IV" "$T/bench.map"
	done
	printf '[sink.lp]\ntype = file\npath = %s\n' "$T/pd.lp"
} >"$T/pd.conf"
"$PD" -c "$T/pd.conf" 2>"$T/pd.log" &
PID=$!
M=http://127.0.0.1:$hp/metrics
for ((i = 0; i < 100; i++)); do
	curl -fsS --max-time 1 "$M" >/dev/null 2>&1 && break
	kill -0 "$PID" 2>/dev/null || fail "powerd exited: $(tail -5 "$T/pd.log")"
	sleep 0.1
done
sleep 2 # every connection made, the polls at their pace
# polls requests replies samples errors-but-overruns overruns
sums() {
	curl -fsS --max-time 5 "$M" | awk '
		/^powerd_modbus_polls_total\{source="d/ { p += $2 }
		/^powerd_modbus_requests_total\{source="d/ { q += $2 }
		/^powerd_modbus_replies_total\{source="d/ { r += $2 }
		/^powerd_source_samples_total\{source="d/ { s += $2 }
		/^powerd_source_errors_total\{source="d[0-9]*",kind="modbus"/ {
			if ($0 ~ /reason="overrun"/) o += $2; else e += $2 }
		END { printf "%d %d %d %d %d %d\n", p, q, r, s, e, o }'
}
read -r p0 q0 r0 s0 e0 o0 < <(sums)
c0=$(ticks "$PID")
t0=$(now)
sleep "$SECS"
t1=$(now)
c1=$(ticks "$PID")
read -r p1 q1 r1 s1 e1 o1 < <(sums)
kill "$PID"
wait "$PID" || true
PID=
[ "$e1" = 0 ] || fail "powerd counted $e1 errors (other than overruns): $(grep -i error "$T/pd.log" | tail -3)"
[ "$r1" -gt 0 ] || fail "powerd got no replies: $(tail -5 "$T/pd.log")"
# Every sample in the sink: the device it names answered, with its values.
awk -v nreg=$NREG '
	{ split($1, t, ","); dev = ""; for (i in t) if (t[i] ~ /^source=d/) dev = substr(t[i], 9)
	  n = split($2, f, ","); ok = (n == nreg)
	  for (i = 1; i <= n; i++) {
		split(f[i], kv, "=")
		want = kv[1] == "dev" ? dev "i" : (1000 + substr(kv[1], 2)) "i"
		if (kv[2] != want) ok = 0 }
	  if (ok) good++; else { bad++; if (bad < 4) print "bad sample: " $0 > "/dev/stderr" } }
	END { printf "%d %d\n", good, bad }' "$T/pd.lp" >"$T/check"
read -r good bad <"$T/check"
[ "$bad" = 0 ] || fail "$bad samples in the sink do not hold their device's registers"
dt=$(echo "$t1 - $t0" | bc -l)
dp=$((r1 - r0)) # polls answered in full: one read each
pd_pps=$(echo "$dp / $dt" | bc -l)
pd_us=$(echo "($c1 - $c0) / $HZ / $dp * 1000000" | bc -l)
pd_cpu=$(echo "($c1 - $c0) * 100 / $HZ / $dt" | bc -l)
printf 'bench modbus_tcp_powerd devices=%d interval=%s registers=%d wanted_polls_per_s=%.0f polls_per_s=%.0f requests=%d replies=%d errors=%d overruns=%d samples_checked=%d cpu_pct=%.1f us_per_poll=%.1f\n' \
	"$N" "$IV" "$NREG" "$(echo "$N / $IV_S" | bc -l)" \
	"$pd_pps" $((q1 - q0)) "$dp" "$e1" $((o1 - o0)) "$good" "$pd_cpu" "$pd_us"

# ------------------------------------------------------------ mbpoll -1, one after another
# One process per poll, over the 32 ports in turn, for as long; its output
# checked poll by poll (20 registers, [0] the device's index).
mb_loop() {
	local end i
	end=$(echo "$(now) + $SECS" | bc -l)
	while (($(echo "$(now) < $end" | bc -l))); do
		for ((i = 0; i < N; i++)); do
			echo "= $i"
			mbpoll -1 -q -m tcp -a 1 -0 -r 0 -c $NREG -p $((P + i)) 127.0.0.1 || echo "! $i"
		done
	done
	times >&3
}
t0=$(now)
mb_loop 3>"$T/mb.times" | awk -v nreg=$NREG '
	/^= / { if (dev != "") tally(); dev = $2; n = 0; ok = 1; next }
	/^! / { ok = 0; next }
	/^\[[0-9]+\]:/ { v = $2; k = substr($1, 2) + 0
		if ((k == 0 && v != dev) || (k > 0 && v != 1000 + k)) ok = 0; n++ }
	function tally() { if (ok && n == nreg) good++; else bad++ }
	END { if (dev != "") tally(); printf "%d %d\n", good, bad }' >"$T/mb.check"
t1=$(now)
read -r mgood mbad <"$T/mb.check"
[ "$mbad" = 0 ] || fail "mbpoll: $mbad polls failed or read wrong values"
# times: the children's user and system time, second line ("0m1.234s 0m0.567s")
mcpu=$(sed -n 2p "$T/mb.times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } print s }')
dt=$(echo "$t1 - $t0" | bc -l)
mb_pps=$(echo "$mgood / $dt" | bc -l)
printf 'bench modbus_tcp_mbpoll_loop devices=%d polls=%d polls_per_s=%.0f us_per_poll=%.1f\n' \
	"$N" "$mgood" "$mb_pps" "$(echo "$mcpu / $mgood * 1000000" | bc -l)"

# ------------------------------------------------------------ modpoll, one after another
# The same loop with modpoll (powerd's core, one process per poll, no pause
# after connecting): what a process per poll costs without mbpoll's sleep.
mp_loop() {
	local end i
	end=$(echo "$(now) + $SECS" | bc -l)
	while (($(echo "$(now) < $end" | bc -l))); do
		for ((i = 0; i < N; i++)); do
			echo "= $i"
			"$MPL" tcp://127.0.0.1:$((P + i)) --read holding 0 $NREG || echo "! $i"
		done
	done
	times >&3
}
t0=$(now)
mp_loop 3>"$T/mp.times" | awk -v nreg=$NREG '
	/^= / { if (dev != "") tally(); dev = $2; n = 0; ok = 1; next }
	/^! / { ok = 0; next }
	/^[0-9]+ / { k = $1 + 0; v = $3
		if ((k == 0 && v != dev) || (k > 0 && v != 1000 + k)) ok = 0; n++ }
	function tally() { if (ok && n == nreg) good++; else bad++ }
	END { if (dev != "") tally(); printf "%d %d\n", good, bad }' >"$T/mp.check"
t1=$(now)
read -r pgood pbad <"$T/mp.check"
[ "$pbad" = 0 ] || fail "modpoll: $pbad polls failed or read wrong values"
pcpu=$(sed -n 2p "$T/mp.times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } print s }')
dt=$(echo "$t1 - $t0" | bc -l)
mpl_pps=$(echo "$pgood / $dt" | bc -l)
printf 'bench modbus_tcp_modpoll_loop devices=%d polls=%d polls_per_s=%.0f us_per_poll=%.1f\n' \
	"$N" "$pgood" "$mpl_pps" "$(echo "$pcpu / $pgood * 1000000" | bc -l)"

# ------------------------------------------------------------ mbpoll -l 10, one per device
for ((i = 0; i < N; i++)); do
	stdbuf -oL mbpoll -q -m tcp -a 1 -0 -r 0 -c $NREG -l 10 -p $((P + i)) 127.0.0.1 >"$T/mbl.$i" 2>&1 &
	MPIDS+=($!)
done
sleep 2
declare -A mc0
n0=0
for ((i = 0; i < N; i++)); do
	mc0[$i]=$(ticks "${MPIDS[$i]}")
	n0=$((n0 + $(grep -c '^\[0\]:' "$T/mbl.$i" || true)))
done
t0=$(now)
sleep "$SECS"
t1=$(now)
n1=0 mt=0
for ((i = 0; i < N; i++)); do
	mt=$((mt + $(ticks "${MPIDS[$i]}") - mc0[$i]))
	n1=$((n1 + $(grep -c '^\[0\]:' "$T/mbl.$i" || true)))
done
for p in "${MPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${MPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
MPIDS=()
dt=$(echo "$t1 - $t0" | bc -l)
ml_polls=$((n1 - n0))
[ "$ml_polls" -gt 0 ] || fail "mbpoll -l 10 polled nothing: $(head -3 "$T/mbl.0")"
printf 'bench modbus_tcp_mbpoll_each devices=%d processes=%d polls_per_s=%.0f us_per_poll=%.1f\n' \
	"$N" "$N" "$(echo "$ml_polls / $dt" | bc -l)" "$(echo "$mt / $HZ / $ml_polls * 1000000" | bc -l)"
printf 'bench modbus_tcp_ratio powerd_over_mbpoll_loop=%.1f powerd_over_modpoll_loop=%.1f\n' \
	"$(echo "$pd_pps / $mb_pps" | bc -l)" "$(echo "$pd_pps / $mpl_pps" | bc -l)"
