#!/bin/bash
# `powerd --check` on every sample configuration (ASan build): each
# tests/config/bad_*.conf must exit 2 and print exactly the errors its
# "# expect: LINE: TEXT" comments list, as "FILE:LINE: ...TEXT..."; the good
# ones and the examples must exit 0 and print nothing; a missing file exits 2.
set -u
B=${1:-build}
POWERD=$B/asan/powerd
if [ ! -x "$POWERD" ]; then
	echo "skip: $POWERD not built"
	exit 77
fi
fails=0
nbad=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Error lines about file $1: "FILE:LINE: ..."
errors() {
	grep -E "^${1//./\\.}:[0-9]+: " "$out"
}

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

for f in tests/config/bad_*.conf; do
	nbad=$((nbad + 1))
	"$POWERD" --check -c "$f" >"$out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "$f: exit $rc, want 2"
	want=$(grep -c '^# expect: ' "$f")
	[ "$want" -gt 0 ] || fail "$f: no '# expect: LINE: TEXT' comment"
	while IFS= read -r exp; do
		line=${exp%%:*}
		text=${exp#*: }
		grep -F -- "$f:$line: " "$out" | grep -qF -- "$text" ||
			fail "$f: no '$f:$line: ...$text...' in: $(cat "$out")"
	done < <(sed -n 's/^# expect: //p' "$f")
	got=$(errors "$f" | wc -l)
	[ "$got" -eq "$want" ] || fail "$f: $got error lines, want $want: $(cat "$out")"
done
[ $nbad -ge 10 ] || fail "only $nbad bad sample configurations"

for f in tests/config/good_*.conf examples/powerd.conf examples/demo.conf; do
	if [ ! -e "$f" ]; then
		[ "$f" = examples/demo.conf ] && continue
		fail "$f missing"
		continue
	fi
	"$POWERD" --check -c "$f" >"$out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "$f: exit $rc, want 0: $(cat "$out")"
	! errors "$f" >/dev/null || fail "$f: unexpected errors: $(cat "$out")"
done

missing=tests/config/does-not-exist.conf
"$POWERD" --check -c "$missing" >"$out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "$missing: exit $rc, want 2"
grep -qF "$missing: cannot open: No such file or directory" "$out" ||
	fail "$missing: no 'cannot open' message: $(cat "$out")"

[ $fails -eq 0 ] || exit 1
echo "ok: $nbad bad and the good configurations"
