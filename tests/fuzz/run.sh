#!/usr/bin/env bash
# make fuzz: build and run every libFuzzer target tests/fuzz/fuzz_*.c.
#
#   tests/fuzz/run.sh OUT_DIR [SECONDS]
#
# Each target is linked with clang -fsanitize=fuzzer,address,undefined from
# the library sources (LIB_SRCS of the Makefile), plus the files a target
# names on a "// fuzz-extra-sources: daemon/x.c" line, and run for SECONDS.  Its
# corpus lives in OUT_DIR/corpus/TARGET, seeded from tests/fuzz/corpus/TARGET/,
# and grows from run to run; crash inputs go to OUT_DIR/crashes/TARGET/.
# Exit 0 when every target ran clean, 1 on a crash or a failed build.
# Needs clang, make and libclang-rt-14-dev (Debian's libFuzzer runtime).
#
# Building is the slow part, so every source is compiled once per run, not
# once per target: a generated OUT_DIR/obj/Makefile compiles each into
# OUT_DIR/obj/ with make -j"$(nproc)" and links the targets from those
# objects.  The objects are kept: the next run recompiles only a source that
# is newer than its object, or that includes a newer header (clang -MMD dep
# files), and everything when the flags change (OUT_DIR/obj/flags).
#
# FUZZ_JOBS=N runs N targets at a time (default 1, at most nproc); the smoke
# test uses 2.  Each target's output is held back and printed whole, in
# target order, so parallel runs read like serial ones.
set -uo pipefail

OUT=${1:?usage: tests/fuzz/run.sh OUT_DIR [SECONDS]}
SECS=${2:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${FUZZ_CC:-clang}
JOBS=${FUZZ_JOBS:-1}
cd "$ROOT" || exit 1

case "$SECS" in
'' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$SECS'" >&2; exit 2 ;;
esac
case "$JOBS" in
'' | *[!0-9]* | 0) echo "fuzz: FUZZ_JOBS must be a positive whole number, not '$JOBS'" >&2; exit 2 ;;
esac
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }
command -v make >/dev/null || { echo "fuzz: make not found (apt-get install make)" >&2; exit 1; }
NCPU=$(nproc 2>/dev/null || echo 1)
# More runs at a time than cores would only slice each one's time budget.
[ "$JOBS" -le "$NCPU" ] || JOBS=$NCPU

# The same library sources as the Makefile, so a new one is never missed.
LIB_SRCS=$(sed -n 's/^LIB_SRCS[[:space:]]*:=[[:space:]]*//p' Makefile)
[ -n "$LIB_SRCS" ] || { echo "fuzz: no LIB_SRCS in the Makefile" >&2; exit 1; }
PKG_CFLAGS=$(pkg-config --cflags inih libcjson) || exit 1
PKG_LIBS=$(pkg-config --libs inih libcjson) || exit 1
# Objects get the coverage instrumentation without libFuzzer's main();
# only the link brings in the runtime.
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer "-fsanitize=fuzzer-no-link,address,undefined"
	-fno-sanitize-recover=all -D_GNU_SOURCE '-DPOWERD_VERSION="fuzz"' "-DPOWERD_DATADIR=\"$PWD/share\""
	-Iinclude -Idaemon
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
LDFLAGS=("-fsanitize=fuzzer,address,undefined")

if ! mkdir -p "$OUT" || ! OUT=$(cd "$OUT" && pwd) || [ -z "$OUT" ]; then
	echo "fuzz: cannot use '$1' as the output directory" >&2
	exit 1
fi
# Both paths end up in a Makefile, where blanks, '$', ':' and '#' mean something.
case "$OUT$ROOT" in
*[!A-Za-z0-9_./+,@-]*)
	echo "fuzz: '$OUT' or '$ROOT' has a character make cannot take in a path; use a plainer OUT_DIR" >&2
	exit 1
	;;
esac

# Does this clang have its fuzzer runtime at all?  Say so plainly if not.
probe=$OUT/.probe
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe.c"
if ! "$CC" "${LDFLAGS[@]}" "$probe.c" -o "$probe" 2>"$probe.log"; then
	echo "fuzz: FAIL: $CC cannot link a libFuzzer target; the fuzzer runtime is missing" >&2
	echo "fuzz: (Debian: apt-get install libclang-rt-14-dev for clang 14). Compiler said:" >&2
	sed 's/^/  /' "$probe.log" >&2
	exit 1
fi
rm -f "$probe" "$probe.c" "$probe.log"

targets=()
for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] && targets+=("$(basename "$src" .c)")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no tests/fuzz/fuzz_*.c" >&2; exit 1; }

# --- build -------------------------------------------------------------------

OBJ=$OUT/obj
mkdir -p "$OBJ" || exit 1
# Shell-quote a flag list for a recipe line, with make's '$' doubled.
mkquote() { printf '%q ' "$@" | sed 's/\$/$$/g'; }
# shellcheck disable=SC2086 # flag lists
cflags="$(mkquote "${CFLAGS[@]}" $PKG_CFLAGS)"
# shellcheck disable=SC2086 # flag lists
ldlibs="$(mkquote $PKG_LIBS -lm -lpthread)"
ldflags="$(mkquote "${LDFLAGS[@]}")"
cc="$(mkquote "$CC")"

# The cache key: objects and binaries depend on this file, which is rewritten
# (and so made newer than all of them) only when a flag or the compiler
# changes.  Comparing text, not mtimes, keeps an unchanged run incremental.
stamp=$OBJ/flags
key=$(printf 'cc: %s\n%s\ncflags: %s\nldflags: %s\nldlibs: %s\n' "$CC" \
	"$("$CC" --version 2>/dev/null | head -n1)" "$cflags" "$ldflags" "$ldlibs")
if [ "$(cat "$stamp" 2>/dev/null)" != "$key" ]; then
	printf '%s\n' "$key" >"$stamp" || exit 1
fi

# One object per distinct source; a target's objects are its own file, all of
# LIB_SRCS and its fuzz-extra-sources.
declare -A objs_of
all_objs=()
declare -A seen
for t in "${targets[@]}"; do
	# A target testing a daemon file names it: "// fuzz-extra-sources: daemon/x.c".
	extra=$(sed -n 's|^// fuzz-extra-sources:||p' "tests/fuzz/$t.c" | tr '\n' ' ')
	list=
	# shellcheck disable=SC2086 # word lists
	for s in "tests/fuzz/$t.c" $LIB_SRCS $extra; do
		o=$OBJ/${s%.c}.o
		list+=" $o"
		[ -n "${seen[$o]:-}" ] && continue
		seen[$o]=1
		all_objs+=("$o")
	done
	objs_of[$t]=$list
done

# Variables are FZ_-prefixed and make runs without the caller's MAKEFLAGS, so
# `make test CC=gcc` cannot leak into this build.  A recipe keeps its
# compiler output in OBJECT.log (a link in obj/TARGET.link.log) and deletes it
# on success.  All logs go before make starts, so one left over means that
# step failed this run: that is what the BUILD FAILED report shows.
mk=$OBJ/Makefile
{
	echo "# Generated by tests/fuzz/run.sh on every run; do not edit."
	echo "FZ_CC := $cc"
	echo "FZ_CFLAGS := $cflags"
	echo "FZ_LDFLAGS := $ldflags"
	echo "FZ_LDLIBS := $ldlibs"
	echo "FZ_STAMP := $stamp"
	echo ".DELETE_ON_ERROR:"
	echo ".SUFFIXES:"
	echo ".PHONY: all"
	printf 'all:'
	printf ' %s' "${targets[@]/#/$OUT/}"
	echo
	echo "$OBJ/%.o: %.c \$(FZ_STAMP)"
	echo "	@mkdir -p \$(@D)"
	echo "	@echo '  CC   \$<'"
	echo "	@\$(FZ_CC) \$(FZ_CFLAGS) -MMD -MP -c \$< -o \$@ 2>\$@.log && rm -f \$@.log"
	for t in "${targets[@]}"; do
		echo "$OUT/$t:${objs_of[$t]} \$(FZ_STAMP)"
		echo "	@echo '  LINK $t'"
		echo "	@\$(FZ_CC) \$(FZ_LDFLAGS) \$(filter %.o,\$^) -o \$@ \$(FZ_LDLIBS) 2>$OBJ/$t.link.log && rm -f $OBJ/$t.link.log"
	done
	for o in "${all_objs[@]}"; do
		echo "-include ${o%.o}.d"
	done
} >"$mk" || exit 1

fzmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make --no-print-directory -f "$mk" "$@"; }

echo "== build ${#targets[@]} targets from ${#all_objs[@]} sources (make -j$NCPU, objects in $OBJ)"
t0=$SECONDS
# -k: one broken file must not hide whether the other targets build.  make's
# own complaints (a missing source, say) go to make.log for the report.
find "$OBJ" -name '*.log' -delete
fzmake -s -k -j"$NCPU" all 2>"$OBJ/make.log"
echo "== build took $((SECONDS - t0))s"

failed=0
declare -A result
shown_log=()
for t in "${targets[@]}"; do
	# Up to date after the build means it built; a stale binary from an
	# earlier run does not count.
	fzmake -q "$OUT/$t" 2>/dev/null && { rm -f "$OUT/$t.build.log"; continue; }
	# The compiler output of this target's failed files (each shown in full
	# once; a library file breaks every target) and of its link.
	: >"$OUT/$t.build.log"
	# shellcheck disable=SC2086 # a word list
	for o in ${objs_of[$t]} "$OBJ/$t.link"; do
		l=$o.log
		[ -s "$l" ] || continue
		cat "$l" >>"$OUT/$t.build.log"
		if [[ " ${shown_log[*]} " == *" $l "* ]]; then
			src=${l#"$OBJ"/}
			echo "fuzz: $t: (${src%.o.log}.c: compiler output above)" >&2
		else
			cat "$l" >&2
			shown_log+=("$l")
		fi
	done
	if [ ! -s "$OUT/$t.build.log" ]; then
		cat "$OBJ/make.log" >>"$OUT/$t.build.log"
		cat "$OBJ/make.log" >&2
	fi
	echo "fuzz: $t: BUILD FAILED" >&2
	result[$t]="build failed"
	failed=1
done

# --- run ---------------------------------------------------------------------

RUNDIR=$OUT/.run
rm -rf "$RUNDIR" && mkdir -p "$RUNDIR" || exit 1

# Run one built target; its verdict goes to RUNDIR/TARGET.result because this
# may be a background subshell.
run_one() {
	local t=$1 bin=$OUT/$1 log=$OUT/$1.log corpus=$OUT/corpus/$1 crashes=$OUT/crashes/$1
	local rc execs cov nin res
	mkdir -p "$corpus" "$crashes" || { echo "mkdir failed" >"$RUNDIR/$t.result"; return; }
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
	fi
	echo "== $t: run ${SECS}s (corpus $corpus: $(find "$corpus" -type f | wc -l) inputs)"
	# -rss_limit_mb: a leak or runaway allocation is a finding, not a swap storm.
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2)
	nin=$(find "$corpus" -type f | wc -l)
	if [ $rc -ne 0 ]; then
		echo "fuzz: $t: CRASH (exit $rc); the input is in $crashes/, the log in $log:" >&2
		grep -E 'ERROR|SUMMARY|fuzz_[a-z]+:|runtime error|Test unit written' "$log" | head -n 20 >&2
		res="CRASH after ${execs:-?} execs"
	else
		res="ok: ${execs:-?} execs in ${SECS}s, coverage ${cov:-?}, corpus $nin"
	fi
	echo "$res" >"$RUNDIR/$t.result"
}

# Collect a target's verdict and print its held-back output whole.
declare -A pid
finish() {
	local t=$1
	if [ -n "${pid[$t]:-}" ]; then
		wait "${pid[$t]}"
		cat "$RUNDIR/$t.out"
		cat "$RUNDIR/$t.err" >&2
	fi
	result[$t]=$(cat "$RUNDIR/$t.result" 2>/dev/null || echo "no result (run aborted)")
	[[ ${result[$t]} == ok:* ]] || failed=1
	echo "fuzz $t: ${result[$t]}"
}

# A window of JOBS runs, finished oldest first so the output keeps target order.
running=()
for t in "${targets[@]}"; do
	[ -z "${result[$t]:-}" ] || continue
	if [ "$JOBS" -eq 1 ]; then
		run_one "$t" # in the foreground: a long run shows its "== run" line at once
		finish "$t"
		continue
	fi
	run_one "$t" >"$RUNDIR/$t.out" 2>"$RUNDIR/$t.err" &
	pid[$t]=$!
	running+=("$t")
	if [ ${#running[@]} -ge "$JOBS" ]; then
		finish "${running[0]}"
		running=("${running[@]:1}")
	fi
done
for t in "${running[@]}"; do
	finish "$t"
done
rm -rf "$RUNDIR"

echo
echo "== fuzz summary (${SECS}s per target)"
for t in "${targets[@]}"; do
	printf '  %-14s %s\n' "$t" "${result[$t]}"
done
exit $failed
