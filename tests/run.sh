#!/bin/bash
# Run every test and end with "N passed, N failed[, N skipped]".
#   tests/run.sh BUILD_DIR [FILTER]
# Unit tests run in their ASan+UBSan build; the threaded ones also in their
# TSan build.  Shell tests (tests/t_*.sh) get BUILD_DIR and exit 0 (pass),
# 77 (skip) or anything else (fail).
set -u
B=${1:-build}
FILTER=${2:-}
cd "$(dirname "$0")/.." || exit 1
LOG=$B/test-logs
mkdir -p "$LOG"
pass=0 fail=0 skip=0 failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

run() { # name, command...
	local name=$1 t0 rc
	shift
	[ -n "$FILTER" ] && [[ $name != *$FILTER* ]] && return
	t0=$(date +%s.%N)
	mkdir -p "$(dirname "$LOG/$name.log")"
	"$@" >"$LOG/$name.log" 2>&1
	rc=$?
	local dt
	dt=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N)-$t0}")
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS  $name (${dt}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		echo "SKIP  $name: $(tail -n 1 "$LOG/$name.log")"
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "FAIL  $name (exit $rc, ${dt}s); last lines of $LOG/$name.log:"
		tail -n 25 "$LOG/$name.log" | sed 's/^/      /'
	fi
}

for t in "$B"/asan/tests/test_*; do
	[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in "$B"/tsan/tests/test_ring* "$B"/tsan/tests/test_recring* "$B"/tsan/tests/test_http* \
	"$B"/tsan/tests/test_uploader* "$B"/tsan/tests/test_wakeup* "$B"/tsan/tests/test_loop*; do
	[ -x "$t" ] && run "tsan/$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
	run "$(basename "$t" .sh)" "$t" "$B"
done
# The fault suite: one script per fault scenario (tests/faults/README.md).
for t in tests/faults/f_*.sh; do
	[ -f "$t" ] && run "faults/$(basename "$t" .sh)" "$t" "$B"
done
# The HTTP sources' faults once more under TSan: curl on the I/O thread
# while the HTTP server's threads read their counters and states.
[ -x "$B/tsan/powerd" ] && run tsan/f_http_faults env PD="$B/tsan/powerd" \
	tests/faults/f_http_faults.sh "$B"

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
