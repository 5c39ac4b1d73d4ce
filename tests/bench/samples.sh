#!/usr/bin/env bash
# Wide samples (issue 7), old path against new in the same run: samples of
# 40 float fields through ring -> uploader -> file sink (samples/s), and
# the memory a queued sample costs in the ring (bytes per sample).
#
#   tests/bench/samples.sh BUILD_DIR      (also the last part of make bench)
#
# The new path is BUILD_DIR/bench/bench_samples.  The old path is measured
# by the old code itself: the commit that added tests/bench/bench_samples.c
# is the last one before samples became packed (one wide sample went as
# ceil(40 / 6) = 7 samples of at most 6 fields, each a 1.3 KB struct in a
# ring of fixed slots); it is exported from git into BUILD_DIR/bench/old-path
# and built there once.  Without git history only the new figures are shown.
# The two paths run in turn, best of BENCH_WIDE_RUNS (default 3) each, of
# BENCH_WIDE_SAMPLES (default 200000).  Exit 1 on any wrong result.
set -euo pipefail

B=${1:?usage: tests/bench/samples.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NEW=$B/bench/bench_samples
N=${BENCH_WIDE_SAMPLES:-200000}
RUNS=${BENCH_WIDE_RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/powerd-bench-samples-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

[ -x "$NEW" ] || { echo "bench: $NEW missing: run 'make all bench-bins' first" >&2; exit 1; }
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# The old-path binary, built from its own commit (once per commit).
OLD=
old_commit=$(git -C "$ROOT" log --diff-filter=A --format=%H -- tests/bench/bench_samples.c 2>/dev/null | tail -n1 || true)
if [ -n "$old_commit" ]; then
	odir=$(cd "$B" && pwd)/bench/old-path/${old_commit:0:12}
	if [ ! -x "$odir/build/bench/bench_samples" ]; then
		echo "== building the old path from ${old_commit:0:12} in $odir"
		rm -rf "$odir"
		mkdir -p "$odir"
		git -C "$ROOT" archive "$old_commit" | tar -x -C "$odir"
		make -C "$odir" -j2 O=build build/bench/bench_samples >"$odir/build.log" 2>&1 ||
			{ tail -n 20 "$odir/build.log" >&2; echo "bench: the old path does not build" >&2; exit 1; }
	fi
	OLD=$odir/build/bench/bench_samples
else
	echo "== no git history: the old path is not measured"
fi

run_p() { # run_p BIN: one pipeline run
	rm -rf "$WORK/state"
	mkdir -p "$WORK/state"
	"$1" pipeline --state "$WORK/state" --samples "$N" --fields 40 ||
		{ echo "bench: $1 pipeline failed" >&2; exit 1; }
}
better() { # better LINE BEST: the one with more samples/s
	if [ -z "$2" ] || awk "BEGIN { exit !($(field samples_per_s "$1") > $(field samples_per_s "$2")) }"; then
		printf '%s\n' "$1"
	else
		printf '%s\n' "$2"
	fi
}

echo "== issue 7: wide samples (40 float fields), $N per run, best of $RUNS, ring -> uploader -> file sink"
# New and old in turn, best of RUNS each: a machine whose load drifts
# during the bench weighs on both alike.
new_p='' old_p=''
for ((i = 0; i < RUNS; i++)); do
	l=$(run_p "$NEW")
	new_p=$(better "$l" "$new_p")
	if [ -n "$OLD" ]; then
		l=$(run_p "$OLD")
		old_p=$(better "$l" "$old_p")
	fi
done
new_m=$("$NEW" memory --fields 40) || { echo "bench: $NEW memory failed" >&2; exit 1; }
printf 'new: %s\nnew: %s\n' "$new_p" "$new_m"
if [ -n "$OLD" ]; then
	old_m=$("$OLD" memory --fields 40) || { echo "bench: $OLD memory failed" >&2; exit 1; }
	printf 'old: %s\nold: %s\n' "$old_p" "$old_m"
fi

row() { printf '%-44s %14s %14s %8s\n' "$@"; }
echo
echo "== summary, wide samples ($(nproc) cores; old = ${old_commit:0:12}, measured by its own code in this run)"
row "what" "new" "old" "new/old"
if [ -n "$OLD" ]; then
	row "samples/s (one sample = 40 fields)" "$(field samples_per_s "$new_p")" "$(field samples_per_s "$old_p")" \
		"$(calc "%.2f" "$(field samples_per_s "$new_p") / $(field samples_per_s "$old_p")")"
	row "  ring entries per wide sample" "$(field parts_per_sample "$new_p")" "$(field parts_per_sample "$old_p")" "-"
	row "ring bytes per queued sample" "$(field ring_bytes_per_sample "$new_m")" \
		"$(field ring_bytes_per_sample "$old_m")" \
		"$(calc "%.3f" "$(field ring_bytes_per_sample "$new_m") / $(field ring_bytes_per_sample "$old_m")")"
	row "  resident bytes per queued sample" "$(field rss_bytes_per_sample "$new_m")" \
		"$(field rss_bytes_per_sample "$old_m")" "-"
	row "peak RSS of the pipeline run (kB)" "$(field hwm_kb "$new_p")" "$(field hwm_kb "$old_p")" "-"
else
	row "samples/s (one sample = 40 fields)" "$(field samples_per_s "$new_p")" "-" "-"
	row "ring bytes per queued sample" "$(field ring_bytes_per_sample "$new_m")" "-" "-"
fi
