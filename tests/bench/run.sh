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
# The uploader's figures (issue 3) are the last section, after the first
# summary: they need BUILD_DIR/bench/bench_uploader, victoria-metrics and
# curl; see the comment there for their environment variables.  Then the
# wide samples (issue 7, tests/bench/samples.sh: the new path against the
# old one, built from git), the JSON-files source, the HTTP source
# (tests/bench/http_poll.sh: 100 [http] sources at 100 ms against a curl loop),
# the MQTT source (tests/bench/mqtt_ingest.sh: against mosquitto_sub -C N),
# canlog (tests/bench/canlog_count.sh: --count on 5 million frames of the
# EcoFlow captures against can-utils' log2long, and its peak RSS) and the CAN
# source (tests/bench/can_vcan.sh: against candump -l, on vcan0 in a QEMU
# guest; the VM cache is tests/vm/cache, VM_CACHE elsewhere).  Last the
# Modbus sources (tests/bench/modbus_tcp.sh: 32 TCP devices of libmodbus's
# server at 10 ms against mbpoll; tests/bench/modbus_rtu.sh: 9600 8N1 on a
# pty holding the master to the line's timing, against the physical maximum).
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

# ================================================================ issue 3: the uploader
# (e) line protocol: lp_encode against the f-string encoder users' bridge
#     scripts use (tests/bench/lineproto_ref.py), same samples, output
#     compared line by line;
# (f) spool appends with an fsync per batch (1 KB and 100 KB records) and
#     without fsync;
# (g) end to end into VictoriaMetrics on loopback through the uploader
#     (influxdb v1 sink, defaults: batch_size 5000, gzip, spool_fsync batch)
#     against curl posting the same line protocol in 5000-line files;
# (h) a 1-hour backlog of 100 series (and a 3-hour one) published while the
#     server is down, then drained; RSS of the process hosting the uploader
#     when idle and with the backlog spooled.
# Every point written is counted back through /api/v1/export, polled until
# the server has ingested all of it (vm_check).  Environment:
# BENCH_LP_SAMPLES (default 500000), BENCH_E2E_SAMPLES (default 500000, a
# multiple of 5000), BENCH_SPOOL_SECONDS (default 3), VM_WAIT_S (default 300:
# how long a short count is polled again).
BU=$OUT/bench_uploader
LPREF=$HERE/lineproto_ref.py
UPD=$OUT/uploader
LP_N=${BENCH_LP_SAMPLES:-500000}
E2E_N=${BENCH_E2E_SAMPLES:-500000}
SPOOL_S=${BENCH_SPOOL_SECONDS:-3}
BL_SERIES=100
BL_SECONDS=3600

[ -x "$BU" ] || fail "$BU missing: run 'make all bench-bins' first"
for c in victoria-metrics curl; do
	command -v "$c" >/dev/null || fail "$c is needed (tools/install-deps.sh bench)"
done
[ $((E2E_N % 5000)) -eq 0 ] || fail "BENCH_E2E_SAMPLES must be a multiple of 5000"
# shellcheck source=tests/lib_servers.sh
. "$ROOT/tests/lib_servers.sh"
bl_pid=
bu_cleanup() {
	[ -z "$bl_pid" ] || kill "$bl_pid" 2>/dev/null || true
	vm_stop || true
}
trap bu_cleanup EXIT
rm -rf "$UPD"
mkdir -p "$UPD"

echo
echo "== issue 3: the uploader"

# ------------------------------------------------------------ (e) encode
echo "== (e) line protocol, $LP_N pulse samples (1 tag, 3 float fields), best of 3"
best_line() { # best_line KEY LINES...: the line with the highest KEY
	local key=$1 best='' v bv=-1 l
	shift
	for l in "$@"; do
		v=$(field "$key" "$l")
		[ -n "$v" ] || continue
		if awk "BEGIN { exit !($v > $bv) }"; then best=$l bv=$v; fi
	done
	printf '%s\n' "$best"
}
runs=() pyruns=()
for _ in 1 2 3; do
	runs+=("$("$BU" encode --samples "$LP_N")") || fail "bench_uploader encode failed"
	pyruns+=("$(python3 "$LPREF" --samples "$LP_N")") || fail "lineproto_ref.py failed"
done
lp=$(best_line samples_per_s "${runs[@]}")
lpy=$(best_line samples_per_s "${pyruns[@]}")
printf '%s\n%s\n' "$lp" "$lpy"
# Correctness, once, outside the clock: every line read back the same.
"$BU" encode --samples "$LP_N" --out "$UPD/lp.c.txt" >/dev/null || fail "bench_uploader encode --out failed"
python3 "$LPREF" --samples "$LP_N" --out "$UPD/lp.py.txt" --compare "$UPD/lp.c.txt" | tail -n1 ||
	fail "MISMATCH: lp_encode and the Python encoder disagree"
rm -f "$UPD/lp.c.txt" "$UPD/lp.py.txt"

# ------------------------------------------------------------ (f) spool
echo "== (f) spool appends on $(df -PT "$UPD" | awk 'NR == 2 { print $2 " (" $1 ")" }'), ${SPOOL_S} s per fsync case"
sp_out=$("$BU" spool --dir "$UPD/spool" --seconds "$SPOOL_S") || { printf '%s\n' "$sp_out"; fail "bench_uploader spool failed"; }
printf '%s\n' "$sp_out"
rm -rf "$UPD/spool"
sp1=$(printf '%s\n' "$sp_out" | grep '^bench spool_batch_1k ')
sp100=$(printf '%s\n' "$sp_out" | grep '^bench spool_batch_100k ')
spn1=$(printf '%s\n' "$sp_out" | grep '^bench spool_never_1k ')
spn100=$(printf '%s\n' "$sp_out" | grep '^bench spool_never_100k ')

# ------------------------------------------------------------ (g) end to end
# vm_check MATCH SERIES PER_SERIES WHAT: every one of the three fields has
# SERIES series of exactly PER_SERIES points, no timestamp twice.  What the
# server acknowledged is not yet all searchable (VictoriaMetrics ingests in
# the background, slower on a busy machine), so a count that is only short
# is polled again until it is complete or VM_WAIT_S (default 300) have
# passed; anything else (a point too many, a timestamp twice) fails at once.
VM_WAIT_S=${VM_WAIT_S:-300}
vm_check() {
	local out rc polls=0 delay=0.2 t0
	t0=$(now_ns)
	while :; do
		polls=$((polls + 1))
		rc=0
		out=$(vm_export "$1" | python3 -c '
import json, sys
series, per = int(sys.argv[1]), int(sys.argv[2])
names, bad, short, total = {}, [], 0, 0
for line in sys.stdin:
    d = json.loads(line)
    name = d["metric"]["__name__"]
    names[name] = names.get(name, 0) + 1
    n, distinct = len(d["timestamps"]), len(set(d["timestamps"]))
    total += n
    if distinct != n or n > per:
        m = json.dumps(d["metric"], sort_keys=True)
        bad.append(f"{m}: {n} points, {distinct} timestamps")
    elif n < per:
        short += 1
want = {f"pulse_{f}": series for f in ("power_w", "energy_wh", "interval_s")}
print(f"points={total} series={sum(names.values())}")
if bad:
    print(f"{len(bad)} series with wrong counts, e.g. {bad[0]} (want {per})")
    sys.exit(1)
if any(n > want.get(k, 0) for k, n in names.items()):
    print(f"series per field: {names}, want {want}")
    sys.exit(1)
if names != want or short:
    print(f"incomplete: series per field {names}, {short} series short of {per} points")
    sys.exit(2)
' "$2" "$3") || rc=$?
		[ "$rc" = 0 ] && break
		[ "$rc" = 2 ] || fail "MISMATCH in VictoriaMetrics for $4: $out"
		[ $(($(now_ns) - t0)) -lt $((VM_WAIT_S * 1000000000)) ] ||
			fail "MISMATCH in VictoriaMetrics for $4 after ${VM_WAIT_S} s of polling: $out"
		sleep "$delay"
		delay=$(calc "%.1f" "($delay * 2 > 5 ? 5 : $delay * 2)")
	done
	echo "verified in VictoriaMetrics: $4: $(printf '%s' "$out" | head -n1) (want $2 series x $3 points x 3 fields)," \
		"complete after $(calc "%.1f" "($(now_ns) - $t0) / 1e9") s, $polls export(s)"
}

vm_start "$UPD/vm" || fail "VictoriaMetrics did not start"
echo "== (g) end to end: $E2E_N samples into VictoriaMetrics $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null) at $VM_URL"
# The last hour, one sample per millisecond (VictoriaMetrics keeps ms).
e2e_t0=$((($(date +%s) - 3600) * 1000000000))
e2e=()
for gz in yes no; do
	l=$("$BU" e2e --url "$VM_URL" --state "$UPD/e2e-$gz" --samples "$E2E_N" --meter "e2e-gzip-$gz" \
		--t0-ns "$e2e_t0" --step-ns 1000000 --gzip "$gz" 2>"$UPD/e2e-$gz.log") ||
		{ cat "$UPD/e2e-$gz.log" >&2; fail "bench_uploader e2e (gzip=$gz) failed"; }
	echo "$l"
	e2e+=("$l")
done
wurl="$VM_URL/write?db=powerd_bench&precision=ns"
for m in curl curlk; do
	mkdir -p "$UPD/$m"
	"$BU" lpfiles --samples "$E2E_N" --meter "$m" --t0-ns "$e2e_t0" --step-ns 1000000 --dir "$UPD/$m" ||
		fail "bench_uploader lpfiles failed"
done
chunks=$(find "$UPD/curl" -name 'chunk-*.lp' | wc -l)
# What a script does: one curl per file.
t0=$(now_ns)
for f in "$UPD"/curl/chunk-*.lp; do
	curl -fsS --max-time 60 --data-binary @"$f" "$wurl" || fail "curl $f failed"
done
curl_ns=$(($(now_ns) - t0))
# The floor of the transport: one curl, one connection, every file.
first=1
for f in "$UPD"/curlk/chunk-*.lp; do
	[ $first = 1 ] || echo next
	first=0
	printf 'url = "%s"\ndata-binary = "@%s"\nmax-time = 60\n' "$wurl" "$f"
done >"$UPD/curlk.cfg"
t0=$(now_ns)
curl -fsS -K "$UPD/curlk.cfg" || fail "curl -K $UPD/curlk.cfg failed"
curlk_ns=$(($(now_ns) - t0))
curl_sps=$(calc "%.0f" "$E2E_N / ($curl_ns / 1e9)")
curlk_sps=$(calc "%.0f" "$E2E_N / ($curlk_ns / 1e9)")
echo "bench e2e_curl samples=$E2E_N requests=$chunks processes=$chunks wall_s=$(calc "%.3f" "$curl_ns / 1e9") samples_per_s=$curl_sps"
echo "bench e2e_curl_keepalive samples=$E2E_N requests=$chunks processes=1 wall_s=$(calc "%.3f" "$curlk_ns / 1e9") samples_per_s=$curlk_sps"
for m in e2e-gzip-yes e2e-gzip-no curl curlk; do
	vm_check "{__name__=~\"pulse_.*\",meter=\"$m\"}" 1 "$E2E_N" "$m"
done
rm -rf "$UPD/curl" "$UPD/curlk"

# ------------------------------------------------------------ (h) backlog
# backlog TAG SECONDS: publish SECONDS x 100 series while the server is down,
# wait until it is spooled (bench_uploader prints READY), start the server,
# let the drain run.  bench_uploader's lines end up in $UPD/backlog-TAG/out.
# (Not run in a subshell: the server it starts must be the one cleaned up.)
backlog() {
	local tag=$1 secs=$2 d=$UPD/backlog-$1 gofd i
	mkdir -p "$d"
	vm_stop || true
	mkfifo "$d/go"
	"$BU" backlog --url "$VM_URL" --state "$d/state" --series $BL_SERIES --seconds "$secs" \
		--meter "$tag" <"$d/go" >"$d/out" 2>"$d/log" &
	bl_pid=$!
	exec {gofd}>"$d/go"
	for ((i = 0; i < 3000; i++)); do
		grep -q '^READY' "$d/out" && break
		kill -0 "$bl_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^READY' "$d/out" || { cat "$d/out" "$d/log" >&2; fail "backlog $tag: not spooled"; }
	vm_start "$UPD/vm" || fail "VictoriaMetrics did not start again"
	echo go >&"$gofd"
	exec {gofd}>&-
	wait "$bl_pid" || { cat "$d/out" "$d/log" >&2; bl_pid=; fail "backlog $tag: the drain failed"; }
	bl_pid=
	grep '^bench ' "$d/out"
}
echo "== (h) backlog: $BL_SERIES series x 1-second samples published while VictoriaMetrics is down" \
	"(retry_base 100ms, retry_max 1s), then drained"
backlog x1 $BL_SECONDS
vm_check '{__name__=~"pulse_.*",meter=~"x1-m.*"}' $BL_SERIES $BL_SECONDS "1 h backlog"
backlog x3 $((3 * BL_SECONDS))
vm_check '{__name__=~"pulse_.*",meter=~"x3-m.*"}' $BL_SERIES $((3 * BL_SECONDS)) "3 h backlog"
vm_stop || true
s1=$(grep '^bench backlog_spooled ' "$UPD/backlog-x1/out")
d1=$(grep '^bench backlog_drain ' "$UPD/backlog-x1/out")
s3=$(grep '^bench backlog_spooled ' "$UPD/backlog-x3/out")
d3=$(grep '^bench backlog_drain ' "$UPD/backlog-x3/out")
rm -rf "$UPD" # kept when something failed: server and bench logs are in it

# ------------------------------------------------------------ summary
ratio() { calc "%.2f" "$1 / $2"; }
urow() { printf '%-46s %16s %22s %8s\n' "$@"; }
gz=${e2e[0]} nogz=${e2e[1]}
echo
echo "== summary, uploader ($(nproc) cores; ratio = powerd / reference, higher is better for powerd)"
urow "what" "powerd" "reference" "ratio"
urow "line protocol encode, samples/s" "$(field samples_per_s "$lp")" \
	"$(field samples_per_s "$lpy") python" "$(ratio "$(field samples_per_s "$lp")" "$(field samples_per_s "$lpy")")"
urow "line protocol encode, MB/s" "$(field mb_per_s "$lp")" "$(field mb_per_s "$lpy") python" \
	"$(ratio "$(field mb_per_s "$lp")" "$(field mb_per_s "$lpy")")"
urow "into VictoriaMetrics, samples/s (gzip, default)" "$(field samples_per_s "$gz")" \
	"$curl_sps curl/file" "$(ratio "$(field samples_per_s "$gz")" "$curl_sps")"
urow "  same, against one keep-alive curl" "$(field samples_per_s "$gz")" \
	"$curlk_sps curl -K" "$(ratio "$(field samples_per_s "$gz")" "$curlk_sps")"
urow "into VictoriaMetrics, samples/s (gzip = no)" "$(field samples_per_s "$nogz")" \
	"$curl_sps curl/file" "$(ratio "$(field samples_per_s "$nogz")" "$curl_sps")"
for v in "1 KB:$sp1" "100 KB:$sp100"; do
	IFS=: read -r what line <<<"$v"
	urow "spool, fsync per append, $what records" \
		"$(field mb_per_s "$line") MB/s" "-" "-"
	urow "  appends/s, fsyncs/s" "$(field appends_per_s "$line")" "$(field fsyncs_per_s "$line") fsyncs/s" "-"
done
urow "spool, no fsync, 1 KB / 100 KB records" "$(field mb_per_s "$spn1") / $(field mb_per_s "$spn100") MB/s" "-" "-"
urow "drain 1 h x $BL_SERIES series ($(field samples "$d1") samples)" "$(field recovery_s "$d1") s" \
	"vzlogger: hours" "-"
urow "  from the first acknowledged batch" "$(field drain_s "$d1") s" "$(field samples_per_s "$d1")/s" "-"
urow "drain 3 h x $BL_SERIES series ($(field samples "$d3") samples)" "$(field recovery_s "$d3") s" \
	"$(field samples_per_s "$d3")/s" "-"
urow "RSS idle -> 1 h spooled, sink down (kB)" "$(field rss_idle_kb "$s1") -> $(field rss_spooled_kb "$s1")" \
	"delta $(field rss_delta_kb "$s1") kB" "-"
urow "RSS idle -> 3 h spooled, sink down (kB)" "$(field rss_idle_kb "$s3") -> $(field rss_spooled_kb "$s3")" \
	"delta $(field rss_delta_kb "$s3") kB" "-"
urow "peak RSS incl. the drain, 1 h / 3 h (kB)" "$(field hwm_kb "$d1") / $(field hwm_kb "$d3")" "-" "-"
urow "spool on disk per sample (1 h / 3 h)" "$(field bytes_per_sample "$s1") / $(field bytes_per_sample "$s3") B" \
	"$(calc "%.1f" "$(field bytes "$lp") / $(field samples "$lp")") B of LP" "-"
echo "anchor: vzlogger needed hours to drain 6 hours of one meter (64 readings per request);" \
	"powerd drained $(field samples "$d1") samples (1 h of $BL_SERIES series) in $(field recovery_s "$d1") s" \
	"after the server came back"

# ================================================================ issue 7: wide samples
# Old path against new, each measured by its own code in this run (see the
# script's comment): samples/s and ring bytes per queued 40-field sample.
echo
"$HERE/samples.sh" "$B"

# ------------------------------------------------------------ the JSON-files source
jl=$("$HERE/json_backlog.sh" "$B" | grep '^json_backlog ') || fail "json_backlog.sh failed"
echo
echo "== summary, JSON files (Power Pod 1 backlog, 8,640 files of 11 records)"
urow "what" "powerd" "reference" "ratio"
urow "backlog into a file sink, files/s" "$(field files_per_s "$jl")" \
	"$(field jq_files_per_s "$jl") jq -c" "$(field ratio "$jl")"
urow "  points/s" "$(field points_per_s "$jl")" "$(field jq_points_per_s "$jl") jq -c" "-"
urow "peak RSS, 1 day / 2 days of backlog (kB)" "$(field hwm_kb_1day "$jl") / $(field hwm_kb_2days "$jl")" "-" "-"
urow "idle RSS, the demo (kB)" "$(field demo_idle_rss_kb "$jl")" "-" "-"

# ------------------------------------------------------------ the HTTP source
hp=$("$HERE/http_poll.sh" "$B") || fail "http_poll.sh failed"
printf '%s\n' "$hp"
hpoll=$(printf '%s\n' "$hp" | grep '^bench http_poll ')
halone=$(printf '%s\n' "$hp" | grep '^bench http_replay_alone ')
hcurl=$(printf '%s\n' "$hp" | grep '^bench http_curl_loop ')
echo
echo "== summary, HTTP source ($(field sources "$hpoll") [http] sources at 100 ms, one I/O thread)"
urow "what" "powerd" "reference" "ratio"
urow "polls/s (wanted $(field wanted_polls_per_s "$hpoll"))" "$(field polls_per_s "$hpoll")" \
	"$(field polls_per_s "$hcurl") curl loop" \
	"$(calc "%.1f" "$(field polls_per_s "$hpoll") / $(field polls_per_s "$hcurl")")"
urow "  overruns, powerd CPU %" "$(field overruns "$hpoll"), $(field cpu_pct "$hpoll") %" "-" "-"
urow "pulse replay lag mean / max (s)" \
	"$(field replay_lag_mean_s "$hpoll") / $(field replay_lag_max_s "$hpoll")" \
	"$(field replay_lag_mean_s "$halone") / $(field replay_lag_max_s "$halone") alone" "-"
# ------------------------------------------------------------ the MQTT source
mq=$("$HERE/mqtt_ingest.sh" "$B" | grep '^mqtt_ingest ') || fail "mqtt_ingest.sh failed"
echo
echo "== summary, MQTT source ($(field messages "$mq") Pico messages, QoS 1, queued by mosquitto)"
urow "what" "powerd" "reference" "ratio"
urow "into a file sink, messages/s" "$(field powerd_msgs_per_s "$mq")" \
	"$(field sub_msgs_per_s "$mq") mosquitto_sub" "$(field ratio "$mq")"
urow "peak RSS (kB)" "$(field hwm_kb "$mq")" "-" "-"

# ------------------------------------------------------------ canlog
cl=$("$HERE/canlog_count.sh" "$B") || fail "canlog_count.sh failed"
printf '%s\n' "$cl"
cc=$(printf '%s\n' "$cl" | grep '^canlog_count ')
echo
echo "== summary, canlog ($(field frames "$cc") frames of the EcoFlow captures, $(field mb "$cc") MB on $(field fs "$cc"))"
urow "what" "powerd" "reference" "ratio"
urow "frames/s, canlog --count" "$(field canlog_frames_per_s "$cc")" \
	"$(field log2long_frames_per_s "$cc") log2long" "$(field ratio "$cc")"
urow "peak RSS, $(field frames "$cc") / $(field small_frames "$cc") frames (kB)" \
	"$(field rss_kb "$cc") / $(field rss_kb_small "$cc")" "-" "-"
# ------------------------------------------------------------ the CAN source
# (tests/bench/can_vcan.sh: powerd and candump -l on vcan0 in a QEMU guest,
# the host having no AF_CAN; its own table above its summary line)
cv=$("$HERE/can_vcan.sh" "$B") || fail "can_vcan.sh failed"
printf '%s\n' "$cv"
cvl=$(printf '%s\n' "$cv" | grep '^bench can_vcan ')
echo
if [ -n "$(field skipped "$cvl")" ]; then
	echo "== summary, CAN source: skipped (qemu-system-x86 cannot be installed)"
else
	echo "== summary, CAN source (vcan0 in a QEMU TCG guest, emulated: relative figures only)"
	urow "what" "powerd" "reference" "ratio"
	urow "zero-drop rate, frames/s (default rcvbuf)" "$(field powerd_zero_drop_fps "$cvl")" \
		"$(field candump_zero_drop_fps "$cvl") candump -l" "$(field zero_drop_ratio "$cvl")"
	urow "CPU per frame at -g 0, us (utime+stime)" "$(field powerd_us_per_frame "$cvl")" \
		"$(field candump_us_per_frame "$cvl") candump -l" "$(field cpu_ratio "$cvl") (cd/pd)"
fi
# ------------------------------------------------------------ the Modbus sources
# (tests/bench/modbus_tcp.sh: 32 TCP devices of libmodbus's server polled by
# one I/O thread, against mbpoll; tests/bench/modbus_rtu.sh: 9600 8N1 on a
# pty that enforces the line's timing, against the physical maximum)
mt=$("$HERE/modbus_tcp.sh" "$B") || fail "modbus_tcp.sh failed"
printf '%s\n' "$mt"
mtp=$(printf '%s\n' "$mt" | grep '^bench modbus_tcp_powerd ')
mtl=$(printf '%s\n' "$mt" | grep '^bench modbus_tcp_mbpoll_loop ')
mte=$(printf '%s\n' "$mt" | grep '^bench modbus_tcp_mbpoll_each ')
mtm=$(printf '%s\n' "$mt" | grep '^bench modbus_tcp_modpoll_loop ')
mr=$("$HERE/modbus_rtu.sh" "$B") || fail "modbus_rtu.sh failed"
printf '%s\n' "$mr"
mrp=$(printf '%s\n' "$mr" | grep '^bench modbus_rtu_powerd ')
mrm=$(printf '%s\n' "$mr" | grep '^bench modbus_rtu_modpoll ')
mrb=$(printf '%s\n' "$mr" | grep '^bench modbus_rtu_mbpoll ' || true)
echo
echo "== summary, Modbus sources ($(field devices "$mtp") TCP devices at $(field interval "$mtp"), $(field registers "$mtp") registers a poll, one I/O thread; RTU $(field baud "$mrp") 8N1)"
urow "what" "powerd" "reference" "ratio"
urow "TCP polls/s, replies checked (wanted $(field wanted_polls_per_s "$mtp"))" "$(field polls_per_s "$mtp")" \
	"$(field polls_per_s "$mtl") mbpoll -1 loop" "$(calc "%.1f" "$(field polls_per_s "$mtp") / $(field polls_per_s "$mtl")")"
urow "  same, against modpoll (no 20 ms pause)" "$(field polls_per_s "$mtp")" \
	"$(field polls_per_s "$mtm") modpoll loop" "$(calc "%.1f" "$(field polls_per_s "$mtp") / $(field polls_per_s "$mtm")")"
urow "  errors, overruns" "$(field errors "$mtp"), $(field overruns "$mtp")" "-" "-"
urow "TCP CPU per poll, us (utime+stime)" "$(field us_per_poll "$mtp")" \
	"$(field us_per_poll "$mte") mbpoll -l 10 x$(field processes "$mte")" \
	"$(calc "%.1f" "$(field us_per_poll "$mte") / $(field us_per_poll "$mtp")") (mb/pd)"
urow "RTU polls/s (physical max $(calc "%.2f" "$(field physical_polls_per_s "$mrp")"))" "$(field polls_per_s "$mrp")" \
	"$(field polls_per_s "$mrm") modpoll" "$(field of_physical_pct "$mrp") % of max"
urow "  errors, requests sent too early / gapped" "$(field errors "$mrp"), $(field dropped_early "$mrp") / $(field dropped_gap "$mrp")" "-" "-"
[ -z "$mrb" ] || urow "  same, against mbpoll -l 10" "$(field polls_per_s "$mrp")" \
	"$(field polls_per_s "$mrb") mbpoll" "$(field of_physical_pct "$mrb") % of max"
