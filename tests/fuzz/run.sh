#!/usr/bin/env bash
# make fuzz: build and run every libFuzzer target tests/fuzz/fuzz_*.c.
#
#   tests/fuzz/run.sh OUT_DIR [SECONDS]
#
# Each target is built with clang -fsanitize=fuzzer,address,undefined against
# the library sources (LIB_SRCS of the Makefile), plus the files a target
# names on a "// fuzz-extra-sources: daemon/x.c" line, and run for SECONDS.  Its
# corpus lives in OUT_DIR/corpus/TARGET, seeded from tests/fuzz/corpus/TARGET/,
# and grows from run to run; crash inputs go to OUT_DIR/crashes/TARGET/.
# Exit 0 when every target ran clean, 1 on a crash or a failed build.
# Needs clang and libclang-rt-14-dev (Debian's libFuzzer runtime).
set -uo pipefail

OUT=${1:?usage: tests/fuzz/run.sh OUT_DIR [SECONDS]}
SECS=${2:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${FUZZ_CC:-clang}
cd "$ROOT" || exit 1

case "$SECS" in
'' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$SECS'" >&2; exit 2 ;;
esac
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }

# The same library sources as the Makefile, so a new one is never missed.
LIB_SRCS=$(sed -n 's/^LIB_SRCS[[:space:]]*:=[[:space:]]*//p' Makefile)
[ -n "$LIB_SRCS" ] || { echo "fuzz: no LIB_SRCS in the Makefile" >&2; exit 1; }
PKG_CFLAGS=$(pkg-config --cflags inih libcjson) || exit 1
PKG_LIBS=$(pkg-config --libs inih libcjson) || exit 1
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer "-fsanitize=fuzzer,address,undefined"
	-fno-sanitize-recover=all -D_GNU_SOURCE '-DPOWERD_VERSION="fuzz"' -Iinclude -Idaemon
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes)

if ! mkdir -p "$OUT" || ! OUT=$(cd "$OUT" && pwd) || [ -z "$OUT" ]; then
	echo "fuzz: cannot use '$1' as the output directory" >&2
	exit 1
fi

# Does this clang have its fuzzer runtime at all?  Say so plainly if not.
probe=$OUT/.probe
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log"; then
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

failed=0
declare -A result
for t in "${targets[@]}"; do
	bin=$OUT/$t
	log=$OUT/$t.log
	corpus=$OUT/corpus/$t
	crashes=$OUT/crashes/$t
	mkdir -p "$corpus" "$crashes" || exit 1
	echo "== $t: build"
	# A target testing a daemon file names it: "// fuzz-extra-sources: daemon/x.c".
	extra=$(sed -n 's|^// fuzz-extra-sources:||p' "tests/fuzz/$t.c" | tr '\n' ' ')
	# shellcheck disable=SC2086 # flag lists
	if ! "$CC" "${CFLAGS[@]}" $PKG_CFLAGS "tests/fuzz/$t.c" $LIB_SRCS $extra -o "$bin" $PKG_LIBS -lm \
		-lpthread 2>"$OUT/$t.build.log"; then
		cat "$OUT/$t.build.log" >&2
		echo "fuzz: $t: BUILD FAILED" >&2
		result[$t]="build failed"
		failed=1
		continue
	fi
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
		result[$t]="CRASH after ${execs:-?} execs"
		failed=1
	else
		result[$t]="ok: ${execs:-?} execs in ${SECS}s, coverage ${cov:-?}, corpus $nin"
	fi
	echo "fuzz $t: ${result[$t]}"
done

echo
echo "== fuzz summary (${SECS}s per target)"
for t in "${targets[@]}"; do
	printf '  %-14s %s\n' "$t" "${result[$t]}"
done
exit $failed
