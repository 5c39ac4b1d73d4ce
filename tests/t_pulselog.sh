#!/bin/bash
# pulselog against traces with a known truth: exact flash count and energy,
# the power of a constant load, CSV shape, bad input (over-long lines and
# out-of-range times too, from a file, stdin or a FIFO alike), usage errors.
set -u
B=${1:-build}
. tests/lib.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PL=$B/asan/pulselog
RANGE="time out of range (at most 4611686018.427387903 s)"

for spec in "constant:1500 800" "household 1000" "steps:300,4000,90:600 10000"; do
	set -- $spec
	python3 tools/gentrace.py --profile "$1" --impulses-per-kwh "$2" --seconds 3600 \
		--jitter-us 50 --glitches 0.2 --seed 11 -o "$T/t.txt" --truth "$T/truth.json" 2>/dev/null ||
		fail "gentrace $spec"
	N=$(json_get "$(cat "$T/truth.json")" 'd["flashes"]')
	WH=$(json_get "$(cat "$T/truth.json")" '"%.6f" % d["energy_wh"]')
	"$PL" "$T/t.txt" --impulses-per-kwh "$2" >"$T/out.csv" 2>"$T/err" || fail "pulselog $spec: $(cat "$T/err")"
	head -1 "$T/out.csv" | grep -qx 'time_s,interval_s,power_w,energy_wh' || fail "CSV header"
	ROWS=$(grep -vc '^#\|^time_s' "$T/out.csv")
	[ "$ROWS" = "$N" ] || fail "$spec: $ROWS rows, truth $N flashes"
	tail -1 "$T/out.csv" | grep -q "^# flashes=$N .*energy_wh=$WH$" || fail "$spec summary: $(tail -1 "$T/out.csv")"
	[ -s "$T/err" ] && fail "$spec: unexpected stderr: $(cat "$T/err")"
done

# A constant 1500 W at 800 imp/kWh: every interval's power within 0.1 %.
python3 tools/gentrace.py --profile constant:1500 --impulses-per-kwh 800 --seconds 1800 \
	--jitter-us 50 --seed 2 -o "$T/c.txt" 2>/dev/null
"$PL" "$T/c.txt" --impulses-per-kwh 800 | awk -F, 'NR>1 && !/^#/ && $3 != "" {
	e = ($3 - 1500) / 1500; if (e < 0) e = -e; if (e > 0.001) bad++; n++ }
	END { if (!n || bad) { print n " intervals, " bad " off by > 0.1 %"; exit 1 } }' ||
	fail "constant-load power"

# Bad lines: reported with file:line, counted, skipped; good edges still count.
printf '0 0\n1 1\n1.03 0\nnot a line\n2 1\n2.03 0\n1.5 1\n' >"$T/bad.txt"
"$PL" "$T/bad.txt" --impulses-per-kwh 1000 >"$T/out" 2>"$T/err" || fail "pulselog on bad lines failed"
grep -q "bad.txt:4: " "$T/err" || fail "no FILE:LINE for line 4: $(cat "$T/err")"
grep -q "bad.txt:7: time goes backwards" "$T/err" || fail "no error for line 7"
grep -q "^# flashes=2 .*bad_lines=2" "$T/out" || fail "bad-line summary: $(tail -1 "$T/out")"

# A 100 KiB line and times beyond 2^62 ns: one bad line each, with its number;
# the same from a file, from stdin and from a FIFO (one parser, any reader).
{
	printf '0 0\n1 1\n1.03 0\n'
	head -c 102400 /dev/zero | tr '\0' '#'
	printf '\n9200000000 1\n2 1\n2.03 0\n4611686018.427387904 1\n3 1\n3.03 0\n'
} >"$T/edge.txt"
mkfifo "$T/fifo"
timeout 20 cat "$T/edge.txt" >"$T/fifo" &
for src in "$T/edge.txt" - "$T/fifo"; do
	"$PL" "$src" --impulses-per-kwh 1000 --quiet <"$T/edge.txt" >"$T/out" 2>"$T/err" ||
		fail "pulselog $src failed: $(cat "$T/err")"
	grep -q "^# flashes=3 .*bad_lines=3 " "$T/out" || fail "$src summary: $(cat "$T/out")"
	printf '%s:4: longer than 4096 bytes\n%s:5: %s\n%s:8: %s\n' "$src" "$src" "$RANGE" "$src" "$RANGE" |
		cmp -s - "$T/err" || fail "$src errors: $(cat "$T/err")"
done
wait

# Usage errors exit 2; a missing file exits 1.
"$PL" "$T/bad.txt" >/dev/null 2>&1; [ $? = 2 ] || fail "missing --impulses-per-kwh not exit 2"
"$PL" "$T/bad.txt" --impulses-per-kwh 0 >/dev/null 2>&1; [ $? = 2 ] || fail "0 imp/kWh not exit 2"
"$PL" "$T/none.txt" --impulses-per-kwh 1000 >/dev/null 2>&1; [ $? = 1 ] || fail "missing file not exit 1"
# stdin works.
"$PL" - --impulses-per-kwh 1000 <"$T/bad.txt" 2>/dev/null | grep -q "^# flashes=2 " || fail "stdin"
echo ok
