#!/bin/bash
# Run every test and end with "N passed, N failed[, N skipped]".
#   tests/run.sh BUILD_DIR [FILTER]
# Unit tests run in their ASan+UBSan build; the threaded ones also in their
# TSan build.  Shell tests (tests/t_*.sh) get BUILD_DIR and exit 0 (pass),
# 77 (skip) or anything else (fail).
#
# TEST_JOBS tests run at once (default: the CPUs, 2 to 4): most of them
# wait on daemons, servers and guests, and every one has its own ports,
# directories and logs, so running them side by side shortens the run and
# also proves they do not need an idle machine.  TEST_JOBS=1 runs them
# one after another.  The longest start first.
set -u
B=${1:-build}
FILTER=${2:-}
cd "$(dirname "$0")/.." || exit 1
LOG=$B/test-logs
mkdir -p "$LOG"
ncpu=$(nproc 2>/dev/null || echo 2)
[ "$ncpu" -lt 2 ] && ncpu=2
[ "$ncpu" -gt 4 ] && ncpu=4
JOBS=${TEST_JOBS:-$ncpu}
RES=$(mktemp -d /tmp/powerd-run-XXXXXX) || exit 1
trap 'rm -rf "$RES"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
n=0

one() { # id, name, command...: run it, print its line, leave its result
	local id=$1 name=$2 t0 rc dt out
	shift 2
	t0=$(date +%s.%N)
	"$@" >"$LOG/$name.log" 2>&1 </dev/null
	rc=$?
	dt=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N)-$t0}")
	if [ $rc -eq 0 ]; then
		out="PASS  $name (${dt}s)"
	elif [ $rc -eq 77 ]; then
		out="SKIP  $name: $(tail -n 1 "$LOG/$name.log")"
	else
		out="FAIL  $name (exit $rc, ${dt}s); last lines of $LOG/$name.log:
$(tail -n 25 "$LOG/$name.log" | sed 's/^/      /')"
	fi
	# One write per test, so lines of tests ending together do not mix.
	printf '%s\n' "$out"
	echo "$rc $name" >"$RES/$id"
}

run() { # name, command...
	local name=$1
	shift
	[ -n "$FILTER" ] && [[ $name != *$FILTER* ]] && return
	mkdir -p "$(dirname "$LOG/$name.log")"
	n=$((n + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	one "$n" "$name" "$@" &
}

# The long ones first, so that the others fill the time beside them.
LONG="t_vm_can t_fuzz_smoke t_json_pp1 t_cross t_vm_gpio2 t_clang_build t_vm_gpio"
for t in $LONG; do
	[ -f "tests/$t.sh" ] && run "$t" "tests/$t.sh" "$B"
done
for t in "$B"/tsan/tests/test_ring* "$B"/tsan/tests/test_recring* "$B"/tsan/tests/test_http* \
	"$B"/tsan/tests/test_uploader* "$B"/tsan/tests/test_wakeup* "$B"/tsan/tests/test_loop* \
	"$B"/tsan/tests/test_history*; do
	[ -x "$t" ] && run "tsan/$(basename "$t")" "$t"
done
for t in "$B"/asan/tests/test_*; do
	[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
	[[ " $LONG " == *" $(basename "$t" .sh) "* ]] && continue
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
wait

pass=0 fail=0 skip=0 failed=()
for f in "$RES"/*; do
	[ -f "$f" ] || continue
	read -r rc name <"$f"
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
	elif [ "$rc" -eq 77 ]; then
		skip=$((skip + 1))
	else
		fail=$((fail + 1))
		failed+=("$name")
	fi
done
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
