#!/bin/bash
# Fault: a damaged or missing energy checkpoint (state_dir/pulse.NAME.state).
#
# The ASan+UBSan daemon replays the same trace (N flashes) on every start, so
# after a start from B flashes /metrics must settle at exactly B + N.  Between
# runs the current checkpoint is damaged in one way after another (-3, 2^64,
# 10^23, leading and trailing garbage, truncated, missing); each time the
# counter must continue from the daemon's own .prev (never 0, never 6.6e22 J),
# the damaged file must be kept as .corrupt* byte for byte, one log line must
# say so, and powerd_state_recovered_total{from="prev"} must count it.  A
# kill -9 continues from the last checkpoint; both files damaged restart at 0
# with both moved aside and from="zero" counted, and no busy loop; the start
# after that is clean.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
[ -x "$PD" ] || fail "$PD not built"
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT

python3 tools/gentrace.py --profile constant:3600 --seconds 60 --seed 7 -o "$T/trace.txt" \
	--truth "$T/truth.json" 2>/dev/null || fail "gentrace"
N=$(json_get "$(cat "$T/truth.json")" 'd["flashes"]')
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
S=$T/state/pulse.house.state
LOG=$T/powerd.log
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/run/powerd.sock
persist_interval = 1s

[pulse.house]
replay           = $T/trace.txt
speed            = 0
impulses_per_kwh = 1000
min_pulse_ms     = 5
sample_interval  = 100h
EOC

flashes() { metric 'powerd_pulse_flashes_total{meter="house"}' "$URL/metrics"; }
has_flashes() { [ "$(flashes)" = "$1" ]; }
recovered() { metric "powerd_state_recovered_total{from=\"$1\"}" "$URL/metrics"; }
# The flash count in a checkpoint file (empty unless it is a good one).
file_flashes() {
	[ -f "$1" ] && awk 'NR == 1 && $0 != "powerd-state 1" { exit 1 }
		NR == 2 && $1 == "flashes" { n = $2 } END { print n }' "$1"
}
corrupt_count() { find "$T/state" -name "pulse.house.state.corrupt*" | wc -l; }

# Start, check the counter never shows less than BASE, settles at BASE + N
# with the energy to match; the log lines this start wrote go to $T/start.log.
run_from() { # BASE
	local base=$1 want=$(($1 + N)) first lines e
	lines=$(log_lines "$LOG")
	pd_start "$T/powerd.conf" "$LOG"
	first=$(flashes)
	{ [ -n "$first" ] && [ "$first" -ge "$base" ]; } || fail "right after the start: $first flashes, below $base"
	wait_for 30 has_flashes "$want" || fail "flashes $(flashes), expected $base + $N = $want"
	e=$(metric 'powerd_pulse_energy_joules_total{meter="house"}' "$URL/metrics")
	[ "$e" = "$((want * 3600))" ] || fail "energy $e J, expected $((want * 3600))"
	tail -n +"$((lines + 1))" "$LOG" >"$T/start.log"
}
# Lines of this start's log about the checkpoints: exactly $1.
state_lines() {
	local n
	n=$(grep -c 'checkpoint' "$T/start.log")
	[ "$n" = "$1" ] || { cat "$T/start.log" >&2; fail "$n log lines about the checkpoints, want $1"; }
}

# Two clean runs: the daemon writes the current checkpoint and a .prev.
run_from 0
state_lines 0
pd_stop
run_from "$N"
pd_stop
[ "$(file_flashes "$S")" = $((2 * N)) ] || fail "checkpoint after two runs: $(cat "$S")"
[ -n "$(file_flashes "$S.prev")" ] || fail "no good .prev after two runs: $(cat "$S.prev" 2>&1)"
{ [ ! -e "$S.tmp" ] && [ ! -e "$S.prev.tmp" ]; } || fail "temporary files left behind"

# The current checkpoint damaged: continue from .prev, keep the evidence.
damage() { # NAME CONTENT
	local name=$1 base k newest
	base=$(file_flashes "$S.prev")
	[ -n "$base" ] || fail "$name: the daemon left no good .prev: $(cat "$S.prev" 2>&1)"
	k=$(corrupt_count)
	printf '%b' "$2" >"$S"
	run_from "$base"
	state_lines 1
	grep -q "pulse.house.state is damaged (.*), moved to $S.corrupt.*continuing from the previous checkpoint $S.prev: $base flashes" \
		"$T/start.log" || { cat "$T/start.log" >&2; fail "$name: the log does not say it continues from .prev ($base)"; }
	[ "$(corrupt_count)" = $((k + 1)) ] || fail "$name: $(corrupt_count) .corrupt files, want $((k + 1))"
	newest=$(sed -n "s|.*moved to \\($S.corrupt[.0-9]*\\);.*|\\1|p" "$T/start.log")
	[ "$(cat "$newest")" = "$(printf '%b' "$2")" ] || fail "$name: $newest does not hold the damaged file"
	{ [ "$(recovered prev)" = 1 ] && [ "$(recovered zero)" = 0 ]; } ||
		fail "$name: recovered prev=$(recovered prev) zero=$(recovered zero)"
	pd_stop
	echo "ok: $name: continued from .prev at $base flashes"
}
damage minus3 'powerd-state 1\nflashes -3\nimpulses_per_kwh 1000\n'
damage two_pow_64 'powerd-state 1\nflashes 18446744073709551616\nimpulses_per_kwh 1000\n'
damage ten_pow_23 'powerd-state 1\nflashes 100000000000000000000000\nimpulses_per_kwh 1000\n'
damage leading 'garbage powerd-state 1\nflashes 5\nimpulses_per_kwh 1000\n'
damage trailing 'powerd-state 1\nflashes 5\nimpulses_per_kwh 1000\ngarbage'
damage truncated 'powerd-state 1\nflashes 5'
damage empty ''

# Missing (as after a crash between two renames): .prev, nothing moved.
base=$(file_flashes "$S.prev")
k=$(corrupt_count)
rm "$S"
run_from "$base"
state_lines 1
grep -q "pulse.house.state is missing; continuing from the previous checkpoint $S.prev: $base flashes" \
	"$T/start.log" || { cat "$T/start.log" >&2; fail "missing: the log does not say it continues from .prev"; }
[ "$(corrupt_count)" = "$k" ] || fail "missing: something was moved aside"
[ "$(recovered prev)" = 1 ] || fail "missing: recovered prev=$(recovered prev)"
echo "ok: missing: continued from .prev at $base flashes"

# kill -9 once a checkpoint holds the final count: nothing lost, no fallback.
want=$(flashes)
saved() { [ "$(file_flashes "$S")" = "$want" ]; }
wait_for 10 saved || fail "no checkpoint of $want flashes within 10 s: $(cat "$S")"
pd_stop KILL
run_from "$want"
state_lines 0
[ "$(recovered prev)" = 0 ] || fail "kill -9: a fallback to .prev"
pd_stop
echo "ok: kill -9: continued from $want flashes"

# Both damaged: 0, loudly, both kept.
k=$(corrupt_count)
printf 'powerd-state 1\nflashes -3\nimpulses_per_kwh 1000\n' >"$S"
printf 'powerd-state 1\nflashes 12\nimpulses_per_kwh 1000\nx' >"$S.prev"
run_from 0
state_lines 1
grep -q "ENERGY COUNTER LOST, restarting at 0 flashes" "$T/start.log" || fail "both: no loud log"
[ "$(corrupt_count)" = $((k + 1)) ] || fail "both: $(corrupt_count) .corrupt files, want $((k + 1))"
[ "$(cat "$S.prev.corrupt")" = "$(printf 'powerd-state 1\nflashes 12\nimpulses_per_kwh 1000\nx')" ] ||
	fail "both: .prev not moved aside intact"
{ [ "$(recovered zero)" = 1 ] && [ "$(recovered prev)" = 0 ]; } || fail "both: recovered zero=$(recovered zero)"
cpu=$(cpu_pct "$PID" 2)
[ "$cpu" -lt 5 ] || fail "both: $cpu % CPU after the fallback"
pd_stop
echo "ok: both damaged: restarted at 0, both moved aside"

# Recovery: the next start is a clean one from the checkpoint.
run_from "$N"
state_lines 0
{ [ "$(recovered zero)" = 0 ] && [ "$(recovered prev)" = 0 ]; } || fail "after recovery: a fallback"
pd_stop
sanitizer_clean "$LOG"
echo "ok: $N flashes per run, $(corrupt_count) damaged files kept"
