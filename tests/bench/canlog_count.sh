#!/usr/bin/env bash
# make bench, canlog (issue 9): `canlog FILE --count` (parse every candump
# line, reassemble and check every EcoFlow record, count them by identity)
# against can-utils' `log2long < FILE > /dev/null` (parse every line and
# print it long) on the same file in the same run, in turn, best of 3 each; and
# canlog's peak RSS on that file and on one a tenth of its size, which must
# be the same: canlog keeps per identity, not per frame.
#   tests/bench/canlog_count.sh BUILD_DIR
# The file: the real captures (tests/fixtures/can/*.log) one after the
# other, copied until there are BENCH_CAN_FRAMES frames (default 5000000),
# each copy's times shifted past the last one's, so they only increase as
# in one long capture.  Written to BENCH_CAN_DIR (default /dev/shm, tmpfs,
# when it is writable, else a temporary directory) and removed at the end.
# Prints the "==" lines and one "canlog_count key=value ..." line; exit 1
# when canlog's counts or log2long's lines are not what the copies give.
set -euo pipefail
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CL=$B/canlog
FRAMES=${BENCH_CAN_FRAMES:-5000000}
[ -x "$CL" ] || { echo "bench: $CL missing: run 'make' first" >&2; exit 1; }
command -v log2long >/dev/null || { echo "bench: log2long is needed (apt-get install can-utils)" >&2; exit 1; }
dir=${BENCH_CAN_DIR:-}
if [ -z "$dir" ]; then
	dir=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && dir=/dev/shm
fi
T=$(mktemp -d "$dir/powerd-bench-canlog-XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
	echo "bench: $*" >&2
	exit 1
}
now_ns() { date +%s%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# gen FRAMES OUT: prints the number of copies.  One copy is every capture in
# turn, each moved to start 1 s after the one before ends; a copy's frames
# count the same records as the captures do alone (nothing is open at the
# end of one), so the counts of N copies are N times theirs.
gen() {
	python3 - "$1" "$2" "$ROOT"/tests/fixtures/can/*.log <<'EOP'
import math, sys
want, out, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
unit, t = [], 0
for p in paths:
    rows = []
    for line in open(p).read().splitlines():
        ts, rest = line.split(" ", 1)
        s, us = ts.strip("()").split(".")
        rows.append((int(s) * 1000000 + int(us), rest))
    base = rows[0][0]
    unit += [(t + u - base, rest) for u, rest in rows]
    t = unit[-1][0] + 1000000
start = 1744106964 * 1000000
copies = math.ceil(want / len(unit))
with open(out, "w", buffering=1 << 20) as f:
    for k in range(copies):
        off = start + k * t
        f.writelines("(%d.%06d) %s\n" % ((off + u) // 1000000, (off + u) % 1000000, rest)
                     for u, rest in unit)
print(copies)
EOP
}

time_ns() { # time_ns CMD...: wall time in ns, CMD's output discarded
	local t0
	t0=$(now_ns)
	"$@" >/dev/null 2>&1
	echo $(($(now_ns) - t0))
}
rss_kb() { # rss_kb CMD...: peak RSS in kB, CMD's output discarded
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$T/rss" "$@" >/dev/null 2>&1
		tail -n1 "$T/rss"
	else
		python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
	fi
}

# The captures alone: what one copy counts.
cat "$ROOT"/tests/fixtures/can/*.log >/dev/null
unit_frames=0 unit_records=0 unit_restarted=0
for f in "$ROOT"/tests/fixtures/can/*.log; do
	s=$("$CL" --count "$f" 2>&1 >/dev/null | tail -n1)
	unit_frames=$((unit_frames + $(sed -n 's/.* \([0-9]*\) frames, .*/\1/p' <<<"$s")))
	unit_records=$((unit_records + $(sed -n 's/.* \([0-9]*\) records: .*/\1/p' <<<"$s")))
	unit_restarted=$((unit_restarted + $(sed -n 's/.* \([0-9]*\) restarted.*/\1/p' <<<"$s")))
done

t0=$(now_ns)
copies=$(gen "$FRAMES" "$T/big.log")
small_copies=$(((copies + 5) / 10))
head -n $((small_copies * unit_frames)) "$T/big.log" >"$T/small.log"
frames=$((copies * unit_frames))
small_frames=$((small_copies * unit_frames))
bytes=$(stat -c %s "$T/big.log")
small_bytes=$(stat -c %s "$T/small.log")
fs=$(df -PT "$T" | awk 'NR == 2 { print $2 }')
echo "== canlog --count against log2long: $frames frames ($copies copies of the captures," \
	"$(calc "%.0f" "$bytes / 1e6") MB) in $T ($fs), generated in $(calc "%.1f" "($(now_ns) - $t0) / 1e9") s; in turn, best of 3"

# Right results first, outside the clock.
sum=$("$CL" --count "$T/big.log" 2>&1 >"$T/count" | tail -n1)
want="# $frames lines (0 bad), $frames frames, $((copies * unit_records)) records: $((copies * unit_records)) good,"
case "$sum" in
"$want "*) ;;
*) fail "MISMATCH: canlog says '$sum', the copies give '$want ...'" ;;
esac
grep -q " $((copies * unit_restarted)) restarted," <<<"$sum" || fail "MISMATCH: restarted in '$sum'"
n=$(awk '{ s += $NF } END { print s }' "$T/count")
[ "$n" = $((copies * unit_records)) ] || fail "MISMATCH: --count sums to $n, want $((copies * unit_records))"
n=$(log2long <"$T/small.log" | wc -l)
[ "$n" = "$small_frames" ] || fail "MISMATCH: log2long printed $n lines for $small_frames frames"

wc -l "$T/big.log" >/dev/null # the page cache, warm for both
# In turn, best of 3 each: the machine may be shared, and what else runs
# then slows both alike.
cl_ns='' l2l_ns=''
for _ in 1 2 3; do
	t=$(time_ns "$CL" --count "$T/big.log")
	if [ -z "$cl_ns" ] || [ "$t" -lt "$cl_ns" ]; then cl_ns=$t; fi
	# shellcheck disable=SC2016 # $1 is the inner shell's
	t=$(time_ns sh -c 'log2long <"$1"' sh "$T/big.log")
	if [ -z "$l2l_ns" ] || [ "$t" -lt "$l2l_ns" ]; then l2l_ns=$t; fi
done
rss_big=$(rss_kb "$CL" --count "$T/big.log")
rss_small=$(rss_kb "$CL" --count "$T/small.log")
fps() { calc "%.0f" "$frames / ($1 / 1e9)"; }
echo "canlog --count: $(calc "%.3f" "$cl_ns / 1e9") s, $(fps "$cl_ns") frames/s," \
	"$(calc "%.0f" "$bytes / ($cl_ns / 1e9) / 1e6") MB/s"
echo "log2long:       $(calc "%.3f" "$l2l_ns / 1e9") s, $(fps "$l2l_ns") frames/s," \
	"$(calc "%.0f" "$bytes / ($l2l_ns / 1e9) / 1e6") MB/s"
echo "canlog peak RSS: $rss_big kB on $frames frames, $rss_small kB on $small_frames" \
	"($(calc "%.1f" "$small_bytes / 1e6") MB)"
echo "canlog_count frames=$frames mb=$(calc "%.1f" "$bytes / 1e6") fs=$fs" \
	"canlog_s=$(calc "%.3f" "$cl_ns / 1e9") canlog_frames_per_s=$(fps "$cl_ns")" \
	"log2long_s=$(calc "%.3f" "$l2l_ns / 1e9") log2long_frames_per_s=$(fps "$l2l_ns")" \
	"ratio=$(calc "%.2f" "$l2l_ns / $cl_ns") rss_kb=$rss_big small_frames=$small_frames rss_kb_small=$rss_small"
