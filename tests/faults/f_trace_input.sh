#!/bin/bash
# Fault: hostile replay input, against the ASan+UBSan daemon
# (-fno-sanitize-recover: any overflow aborts it).
#  1. times the clock cannot represent (9.2e9 s, 2^62 ns, INT64_MAX ns and
#     beyond) between good lines: each is one counted input error logged with
#     its line number (at most 10 such log lines), the good flashes count as
#     pulselog counts them, at speed 1 (then waiting, idle, on an edge 146
#     years ahead, and SIGTERM still works), at speed 0, and at speed 1 with
#     loop = yes (every pass counts its bad lines again);
#  2. a 100 KiB line between good lines: one input error, the same flash count
#     as pulselog, at speed 0 and 1;
#  3. a FIFO as the replay file, at speed 1 and 0, at start-up and by SIGHUP:
#     a clear error and exit status 1 at once, never a hang.
# Exact accounting: flashes and input errors equal pulselog's flashes and bad
# lines.  Recovery: the good lines after each bad one still count.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd PL=$B/asan/pulselog
[ -x "$PD" ] && [ -x "$PL" ] || fail "$PD or $PL not built (make test-build)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

conf() { # NAME TRACE SPEED LOOP
	cat >"$T/$1.conf" <<EOC
[daemon]
state_dir        = $T/state-$1
listen           = 127.0.0.1:$PORT
socket           = $T/run-$1/powerd.sock
persist_interval = 1s

[pulse.m]
replay           = $2
speed            = $3
loop             = $4
impulses_per_kwh = 1000
min_pulse_ms     = 5
sample_interval  = 100h
EOC
}
m() { metric "$1{meter=\"m\"}" "$URL/metrics"; }
is() { [ "$(m "$1")" = "$2" ]; }
pl() { # TRACE: "flashes bad_lines" by pulselog
	"$PL" "$1" --impulses-per-kwh 1000 --quiet 2>/dev/null |
		sed -nE 's/^# flashes=([0-9]+) .*bad_lines=([0-9]+) .*/\1 \2/p'
}
# run NAME TRACE SPEED LOOP: start powerd, wait until it counted what
# pulselog counts, errors included.
run_counts() {
	local name=$1 trace=$2 want_f want_b
	read -r want_f want_b < <(pl "$trace")
	[ -n "$want_f" ] || fail "$name: pulselog gave no summary"
	conf "$name" "$trace" "$3" "$4"
	pd_start "$T/$name.conf" "$T/$name.log"
	wait_for 20 is powerd_pulse_flashes_total "$want_f" ||
		fail "$name: $(m powerd_pulse_flashes_total) flashes, pulselog counts $want_f"
	wait_for 5 is powerd_pulse_input_errors_total "$want_b" ||
		fail "$name: $(m powerd_pulse_input_errors_total) input errors, pulselog counts $want_b bad lines"
	WANT_F=$want_f WANT_B=$want_b
}

# ---------------------------------------------------------------- 1. times
# Ten flashes, 0.2 s apart, with 500 out-of-range times among them; the last
# line is the largest time accepted: at speed 1 the replay then waits for it.
python3 - "$T/huge.txt" <<'PY'
import sys
bad = ["9200000000 1", "4611686018.427387904 0", "9223372036.854775807 1",
       "9223372036854775807 0", "18446744073.709551616 1", "99999999999999999999999 0"]
out, n = [], 0
for i in range(10):
    out.append("%d.%09d 1" % divmod(200_000_000 * i, 10**9))
    out.append("%d.%09d 0" % divmod(200_000_000 * i + 30_000_000, 10**9))
    for j in range(50):
        out.append(bad[n % len(bad)])
        n += 1
out.append("4611686018.427387903 1")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
read -r F B_ < <(pl "$T/huge.txt")
[ "$F $B_" = "10 500" ] || fail "pulselog on huge.txt: $F flashes, $B_ bad lines; want 10 500"
"$PL" "$T/huge.txt" --impulses-per-kwh 1000 --quiet 2>&1 >/dev/null |
	grep -q "^$T/huge.txt:3: time out of range" || fail "pulselog: no error for line 3"

run_counts huge1 "$T/huge.txt" 1 no
L=$T/huge1.log
grep -q "huge.txt:3: time out of range" "$L" || fail "no log line for line 3: $(tail -5 "$L")"
grep -q "huge.txt:4: time out of range" "$L" || fail "no log line for line 4"
N=$(grep -c "time out of range" "$L")
[ "$N" = 10 ] || fail "$N log lines for 500 bad lines; want 10 (then only counted)"
grep -q "further bad lines are only counted" "$L" || fail "no word that logging stops"
# Waiting 146 years for the last edge: idle, and SIGTERM still works.
CPU=$(cpu_pct "$PID" 2)
[ "$CPU" -lt 5 ] || fail "powerd uses $CPU % of a core while waiting for a far edge"
LINES=$(log_lines "$L")
sleep 1
[ "$(log_lines "$L")" = "$LINES" ] || fail "the log grows while waiting: $(tail -3 "$L")"
pd_stop
sanitizer_clean "$L"

# Speed 0: the trace is mapped to end now, so its start lies 146 years back.
run_counts huge0 "$T/huge.txt" 0 no
grep -q "replay of $T/huge.txt finished (521 lines)" "$T/huge0.log" ||
	fail "speed 0: no end of replay: $(tail -3 "$T/huge0.log")"
pd_stop
sanitizer_clean "$T/huge0.log"

# Speed 1, loop = yes: the bad lines first, then three flashes; every pass
# counts the bad lines again (logging them only the first ten times), and
# the flashes of every pass count.
{
	for i in $(seq 1 20); do echo "9223372036.854775807 1"; done
	printf '0 1\n0.03 0\n0.2 1\n0.23 0\n0.4 1\n0.43 0\n'
} >"$T/loop.txt"
conf loop "$T/loop.txt" 1 yes
pd_start "$T/loop.conf" "$T/loop.log"
passes() { [ "$(m powerd_pulse_input_errors_total)" -ge 60 ]; }
wait_for 10 passes || fail "loop: $(m powerd_pulse_input_errors_total) input errors after 10 s; want 3 passes"
two_passes() { [ "$(m powerd_pulse_flashes_total)" -ge 6 ]; }
wait_for 5 two_passes || fail "loop: $(m powerd_pulse_flashes_total) flashes after 3 passes"
[ "$(grep -c "time out of range" "$T/loop.log")" -le 10 ] || fail "loop: unbounded log"
pd_stop
sanitizer_clean "$T/loop.log"

# ---------------------------------------------------------- 2. a long line
# Split anywhere, the 100 KiB line would give an extra edge ("4.03 0").
{
	printf '1 1\n1.03 0\n2 1\n2.03 0\n3 1\n3.03 0\n4 1'
	head -c 102400 /dev/zero | tr '\0' ' '
	printf '4.03 0\n5 1\n5.03 0\n6 1\n6.03 0\n'
} >"$T/long.txt"
read -r F B_ < <(pl "$T/long.txt")
[ "$F $B_" = "5 1" ] || fail "pulselog on long.txt: $F flashes, $B_ bad lines; want 5 1"
"$PL" "$T/long.txt" --impulses-per-kwh 1000 --quiet 2>&1 >/dev/null |
	grep -qx "$T/long.txt:7: longer than 4096 bytes" || fail "pulselog: no error for line 7"
for speed in 0 1; do
	run_counts long$speed "$T/long.txt" $speed no
	grep -q "long.txt:7: longer than 4096 bytes" "$T/long$speed.log" ||
		fail "speed $speed: no log line for line 7: $(tail -3 "$T/long$speed.log")"
	pd_stop
	sanitizer_clean "$T/long$speed.log"
done

# --------------------------------------------------------------- 3. a FIFO
mkfifo "$T/fifo"
for speed in 1 0; do
	conf fifo$speed "$T/fifo" $speed no
	timeout 10 "$PD" -c "$T/fifo$speed.conf" 2>"$T/fifo$speed.log"
	rc=$?
	[ $rc = 124 ] && fail "speed $speed: powerd hangs on a FIFO as the replay file"
	[ $rc = 1 ] || fail "speed $speed: powerd exited $rc on a FIFO, want 1: $(tail -3 "$T/fifo$speed.log")"
	grep -q "replay file $T/fifo is a FIFO: powerd replays regular files only" "$T/fifo$speed.log" ||
		fail "speed $speed: no clear error: $(tail -3 "$T/fifo$speed.log")"
	sanitizer_clean "$T/fifo$speed.log"
done
# A reload onto a FIFO: the new configuration cannot start, powerd exits 1
# at once (as for any configuration that cannot be started).
conf reload "$T/long.txt" 1 no
pd_start "$T/reload.conf" "$T/reload.log"
conf reload "$T/fifo" 1 no
kill -HUP "$PID"
gone() { ! kill -0 "$PID" 2>/dev/null; }
wait_for 10 gone || fail "powerd hangs after a reload onto a FIFO"
wait "$PID"
rc=$?
PID=
[ $rc = 1 ] || fail "reload onto a FIFO: exit $rc, want 1"
grep -q "is a FIFO: powerd replays regular files only" "$T/reload.log" || fail "reload: no clear error"
sanitizer_clean "$T/reload.log"
echo "ok: out-of-range times, a 100 KiB line, FIFOs"
