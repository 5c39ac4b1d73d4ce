#!/usr/bin/env bash
# make bench: throughput of the edge path and of pulselog, side by side with
# what a user would otherwise run (wc -l as the floor of reading the lines, a
# plain Python script as the usual alternative), all measured in this run.
#
#   tests/bench/run.sh BUILD_DIR
#
# Needs BUILD_DIR/pulselog and BUILD_DIR/bench/bench_pipeline (make all
# bench-bins), python3, and for the instruction counts valgrind.  The
# 10-million-edge trace is generated once into BUILD_DIR/bench/ and reused.
# Environment: BENCH_EDGES (bench_pipeline edges, default 10000000),
# BENCH_PY_LINES (run the Python reference on this many lines and scale;
# default: the whole trace).  Exit 1 on any wrong result.
set -euo pipefail

B=${1:?usage: tests/bench/run.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$B/bench
PIPE=$OUT/bench_pipeline
PULSELOG=$B/pulselog
GENTRACE=$ROOT/tools/gentrace.py
REF=$HERE/pulselog_ref.py
EDGES=${BENCH_EDGES:-10000000}
IPK=1000
TRACE_EDGES=10000000
TRACE_ARGS="--impulses-per-kwh $IPK --profile constant:3000 --jitter-us 50 --glitches 0.05 --seed 7"
TRACE=$OUT/trace-10M.txt

for f in "$PIPE" "$PULSELOG"; do
	[ -x "$f" ] || { echo "bench: $f missing: run 'make all bench-bins' first" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "bench: python3 is needed" >&2; exit 1; }
mkdir -p "$OUT"

fail() {
	echo "bench: $*" >&2
	exit 1
}
now_ns() { date +%s%N; }
# awk does the arithmetic; printf-style formatting of its result.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
field() { # field KEY LINE: value of KEY=value in LINE
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1
}

echo "== bench: $(uname -m), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"

# ------------------------------------------------------------ (a) pipeline
echo "== (a) ring + filter + converter, $EDGES edges (constant load, 50 us jitter), best of 3"
pipe_out=$("$PIPE" --edges "$EDGES") || { printf '%s\n' "$pipe_out"; fail "bench_pipeline failed"; }
printf '%s\n' "$pipe_out"
spin_out=$("$PIPE" --mt-spin --edges 1000000 --reps 1) || fail "bench_pipeline --mt-spin failed"
printf '%s\n' "$spin_out"
mt=$(printf '%s\n' "$pipe_out" | grep '^bench pipeline_mt ')
st=$(printf '%s\n' "$pipe_out" | grep '^bench pipeline_st ')
fo=$(printf '%s\n' "$pipe_out" | grep '^bench filter_only ')

# ------------------------------------------------------------ (b) callgrind
# Only the measured loop is collected (--toggle-collect); the difference of
# two runs divided by the difference of edges also cancels what is paid once.
ir_st=- ir_fo=-
cg_ir() { # cg_ir MODE EDGES FUNC -> instructions collected
	local f=$OUT/callgrind.$1.$2.out
	valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect="$3" \
		"$PIPE" "$1" --edges "$2" --reps 1 >/dev/null 2>"$f.log" ||
		fail "callgrind run failed, see $f.log"
	sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -n1
}
if command -v valgrind >/dev/null; then
	n1=200000 n2=400000
	echo "== (b) instructions per edge (valgrind --tool=callgrind, ($n2 - $n1 edges))"
	for v in st:--single:bench_run_st fo:--filter:bench_run_filter; do
		IFS=: read -r tag mode fn <<<"$v"
		a=$(cg_ir "$mode" $n1 "$fn*")
		b=$(cg_ir "$mode" $n2 "$fn*")
		if [ -z "$a" ] || [ -z "$b" ] || [ "$b" -le "$a" ]; then
			fail "callgrind collected nothing for $fn ($a, $b)"
		fi
		ir=$(calc "%.1f" "($b - $a) / ($n2 - $n1)")
		echo "bench callgrind_$tag mode=$mode ir_${n1}=$a ir_${n2}=$b ir_per_edge=$ir"
		eval "ir_$tag=\$ir"
	done
else
	echo "== (b) skipped: valgrind is not installed (apt-get install valgrind)"
fi

# ------------------------------------------------------------ (c) pulselog
if [ ! -s "$TRACE" ] || [ ! -s "$TRACE.json" ] || [ "$(cat "$TRACE.args" 2>/dev/null)" != "$TRACE_ARGS" ]; then
	echo "== generating $TRACE (tools/gentrace.py --edges $TRACE_EDGES $TRACE_ARGS)"
	t0=$(now_ns)
	# shellcheck disable=SC2086 # TRACE_ARGS is a list of options
	python3 "$GENTRACE" --edges $TRACE_EDGES $TRACE_ARGS -o "$TRACE.tmp" --truth "$TRACE.json.tmp"
	mv "$TRACE.json.tmp" "$TRACE.json"
	mv "$TRACE.tmp" "$TRACE"
	printf '%s\n' "$TRACE_ARGS" >"$TRACE.args"
	echo "   generated in $(calc "%.1f" "($(now_ns) - $t0) / 1e9") s"
else
	echo "== reusing $TRACE"
fi
truth() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TRACE.json" "$1"; }
t_flashes=$(truth flashes)
t_glitches=$(truth glitches)
t_edges=$(truth edges)
bytes=$(stat -c %s "$TRACE")
lines=$(wc -l <"$TRACE") # also warms the page cache for every contender
echo "== (c) pulselog on $t_edges edges ($(calc "%.1f" "$bytes / 1e6") MB), truth: flashes=$t_flashes glitches=$t_glitches"

best_of() { # best_of N CMD... -> best wall time in ns (output of CMD to $OUT/last.out)
	local n=$1 best='' t0 t
	shift
	for _ in $(seq "$n"); do
		t0=$(now_ns)
		"$@" >"$OUT/last.out"
		t=$(($(now_ns) - t0))
		if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
	done
	echo "$best"
}

wc_ns=$(best_of 3 wc -l "$TRACE")
pl_ns=$(best_of 3 "$PULSELOG" --quiet --impulses-per-kwh $IPK "$TRACE")
pl_sum=$(tail -n1 "$OUT/last.out")
echo "pulselog: $pl_sum"
want="# flashes=$t_flashes glitches_rejected=$t_glitches edges=$t_edges bad_lines=0"
case "$pl_sum" in
"$want "*) ;;
*) fail "MISMATCH: pulselog says '$pl_sum', the generator's truth is '$want'" ;;
esac

# The Python reference, on the whole trace or on a prefix (then scaled).
py_lines=${BENCH_PY_LINES:-$lines}
py_input=$TRACE
py_note="whole trace"
if [ "$py_lines" -lt "$lines" ]; then
	py_input=$OUT/trace-prefix.txt
	head -n "$py_lines" "$TRACE" >"$py_input"
	py_note="first $py_lines lines, time scaled x$(calc "%.2f" "$lines / $py_lines")"
fi
t0=$(now_ns)
/usr/bin/env python3 "$REF" --quiet --impulses-per-kwh $IPK "$py_input" >"$OUT/ref.out"
py_ns=$(($(now_ns) - t0))
py_sum=$(tail -n1 "$OUT/ref.out")
pl_cmp=$pl_sum
if [ "$py_input" != "$TRACE" ]; then
	pl_cmp=$("$PULSELOG" --quiet --impulses-per-kwh $IPK "$py_input" | tail -n1)
	py_ns=$(calc "%.0f" "$py_ns * $lines / $py_lines")
fi
echo "python:   $py_sum ($py_note)"
if [ "$py_sum" != "$pl_cmp" ]; then
	echo "MISMATCH: pulselog: $pl_cmp" >&2
	echo "MISMATCH: python:   $py_sum" >&2
	exit 1
fi

# Flash by flash, not only the totals: a day of household load with jitter
# and glitches, every CSV line must agree.
python3 "$GENTRACE" --profile household --seconds 86400 --glitches 0.3 --jitter-us 200 --seed 11 \
	-o "$OUT/household.txt" 2>/dev/null
"$PULSELOG" --impulses-per-kwh $IPK "$OUT/household.txt" >"$OUT/household.pulselog.csv"
python3 "$REF" --impulses-per-kwh $IPK "$OUT/household.txt" >"$OUT/household.ref.csv"
cmp -s "$OUT/household.pulselog.csv" "$OUT/household.ref.csv" ||
	fail "MISMATCH: per-flash output differs: diff $OUT/household.pulselog.csv $OUT/household.ref.csv"
echo "per-flash CSV identical on a household day ($(($(wc -l <"$OUT/household.ref.csv") - 2)) flashes)"

mbps() { calc "%.0f" "$bytes / ($1 / 1e9) / 1e6"; }     # MB/s
secs() { calc "%.3f" "$1 / 1e9"; }
echo "bench pulselog wall_s=$(secs "$pl_ns") edges_per_s=$(calc "%.0f" "$t_edges / ($pl_ns / 1e9)") mb_per_s=$(mbps "$pl_ns")"
echo "bench wc_l wall_s=$(secs "$wc_ns") mb_per_s=$(mbps "$wc_ns")"
echo "bench python_ref wall_s=$(secs "$py_ns") edges_per_s=$(calc "%.0f" "$t_edges / ($py_ns / 1e9)") mb_per_s=$(mbps "$py_ns") ($py_note)"
echo "ratio: pulselog is $(calc "%.1f" "$py_ns / $pl_ns")x faster than the Python script," \
	"and takes $(calc "%.1f" "$pl_ns / $wc_ns")x the time of wc -l"

# ------------------------------------------------------------ (d) peak RSS
rss_kb() { # rss_kb CMD... -> peak RSS in kB
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$OUT/rss" "$@" >/dev/null
		tail -n1 "$OUT/rss"
	else
		python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
	fi
}
pl_rss=$(rss_kb "$PULSELOG" --quiet --impulses-per-kwh $IPK "$TRACE")
py_rss=$(rss_kb python3 "$REF" --quiet --impulses-per-kwh $IPK "$OUT/household.txt")
echo "== (d) peak RSS: pulselog ${pl_rss} kB on the 10M-edge trace; python reference ${py_rss} kB"

# ------------------------------------------------------------ summary
need=200 # about 100 flashes per second per meter, two edges each
row() { printf '%-44s %14s %10s %11s\n' "$@"; }
echo
echo "== summary ($(nproc) cores; physical need ~$need edges/s per meter)"
row "what" "M edges/s" "ns/edge" "instr/edge"
for v in "ring+filter+converter, 2 threads:$mt:-" "ring+filter+converter, 1 thread:$st:$ir_st" \
	"filter+converter only:$fo:$ir_fo" "2 threads, producer polling a full ring:$spin_out:-"; do
	IFS=: read -r what line ir <<<"$v"
	row "$what" "$(calc "%.2f" "$(field edges_per_s "$line") / 1e6")" "$(field ns_per_edge "$line")" "$ir"
done
row "pulselog, 10M-edge trace ($(mbps "$pl_ns") MB/s)" "$(calc "%.2f" "$t_edges / ($pl_ns / 1e9) / 1e6")" \
	"$(calc "%.1f" "$pl_ns / $t_edges")" "-"
row "python reference script ($(mbps "$py_ns") MB/s)" "$(calc "%.2f" "$t_edges / ($py_ns / 1e9) / 1e6")" \
	"$(calc "%.1f" "$py_ns / $t_edges")" "-"
row "wc -l, same file ($(mbps "$wc_ns") MB/s)" "$(calc "%.2f" "$t_edges / ($wc_ns / 1e9) / 1e6")" \
	"$(calc "%.1f" "$wc_ns / $t_edges")" "-"
echo "pulselog vs python: $(calc "%.1f" "$py_ns / $pl_ns")x faster; vs wc -l: $(calc "%.1f" "$pl_ns / $wc_ns")x slower;" \
	"peak RSS ${pl_rss} kB"
echo "headroom over $need edges/s: $(calc "%.2g" "$(field edges_per_s "$mt") / $need")x (2 threads)"
