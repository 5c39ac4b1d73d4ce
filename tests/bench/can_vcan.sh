#!/usr/bin/env bash
# make bench, the CAN source on a real kernel: the host has no AF_CAN, so
# Debian's kernel boots under QEMU (tests/vm/prepare.sh, tests/vm/run.sh)
# with tests/vm/guest-canbench.sh as its /init.  There powerd's [can.bench]
# (protocol = raw, record = FILE: every frame written as candump -l does)
# and `candump -l -d` read vcan0 at the same time, both with the kernel's
# default receive buffer, while cangen floods N frames per step, slowest
# step first, the series in several rounds.  From the guest's "BENCH step"
# lines (one per flood):
#   - per step the achieved send rates and each reader's drops; a reader's
#     zero-drop rate is the highest achieved rate of a flood it lost
#     nothing of;
#   - CPU (utime+stime, USER_HZ 100; and the scheduler's runtime) per
#     received frame at the last, fastest step (-g 0).
# Figures printed, never asserted: the guest is emulated (TCG) on a shared
# host, so rates are the emulator's, not a Pi's, and vary between runs.
#   tests/bench/can_vcan.sh BUILD_DIR
# Environment: BENCH_CAN_FRAMES (N, default 20000), BENCH_CAN_STEPS (GAP
# in ms or GAPxBURST, see below), BENCH_CAN_ROUNDS (3), VM_CACHE
# (tests/vm/cache), QEMU_TIMEOUT (s, default 300), QEMU_SMP (vCPUs, 2).
# Prints the table, then one "bench can_vcan key=value ..." line; when qemu
# cannot be installed, "bench can_vcan skipped=qemu" and exit 0.
set -u
B=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
N=${BENCH_CAN_FRAMES:-20000}
# Under TCG a nanosleep costs ~0.3 ms, so cangen's gaps alone go from
# ~3k frames/s (-g 0.01) straight to ~20k (-g 0): bursts (GAPxBURST, -c)
# fill the range between.  The slower gaps (1 ms ... 0.02 ms) say nothing
# more (1,200-3,000 frames/s, no reader ever dropped there) and cost 10 to
# 50 s each.
STEPS=${BENCH_CAN_STEPS:-0.01 0.01x2 0.01x4 0.01x8 0.01x12 0.01x16 0.01x24 0.01x32 0}
# The series more than once: a host that stalls the readers' vCPU makes
# both drop in that flood, so one flood per rate would be the host's word.
ROUNDS=${BENCH_CAN_ROUNDS:-3}
# Two vCPUs: with one, cangen and both readers share it, a woken reader
# preempts the sender at once, and nobody ever drops (the sender's limit
# is all one measures).  With two the sender has one to itself, as a bus
# has its own pace (the guest pins it to CPU 0 and both readers to CPU 1).
SMP=${QEMU_SMP:-2}
CACHE=${VM_CACHE:-tests/vm/cache}
HZ=100 # USER_HZ of Debian's x86_64 kernel: /proc/PID/stat's unit
fail() {
	echo "bench can_vcan: $*" >&2
	exit 1
}

[ -x "$B/powerd" ] || fail "$B/powerd missing (make all)"
for c in candump cangen cansend; do
	command -v "$c" >/dev/null || fail "$c is needed (tools/install-deps.sh bench: can-utils)"
done
mkdir -p "$B/canbench"
tests/vm/prepare.sh "$CACHE" >"$B/canbench/prepare.log" 2>&1
rc=$?
if [ "$rc" = 77 ]; then
	echo "bench can_vcan skipped=qemu (qemu-system-x86 cannot be installed)"
	exit 0
fi
[ "$rc" = 0 ] || fail "tests/vm/prepare.sh exited $rc: $(tail -n 3 "$B/canbench/prepare.log")"

# (flood K is CAN id 1KK, its closing frame 7KK: 256 floods at most)
# shellcheck disable=SC2086 # a list of steps
set -- $STEPS
[ $(($# * ROUNDS)) -le 256 ] || fail "$# steps x $ROUNDS rounds: more than 256 floods"
printf 'N=%s\nSTEPS="%s"\nROUNDS=%s\n' "$N" "$STEPS" "$ROUNDS" >"$B/canbench/canbench.conf"
# Bounded: the defaults take about 2 minutes here (boot in seconds, then
# 27 floods of up to ~10 s with their pauses); qemu is killed at 300 s.
t0=$(date +%s)
QEMU_SMP=$SMP QEMU_TIMEOUT=${QEMU_TIMEOUT:-300} GUEST_INIT=tests/vm/guest-canbench.sh \
	VM_EXTRA_BINS="candump cangen cansend" VM_FILES="$B/canbench/canbench.conf:/etc/vm/canbench.conf" \
	tests/vm/run.sh "$B" "$CACHE" >"$B/canbench/run.log" 2>&1 || {
	tail -n 40 "$B/canbench/run.log" >&2
	fail "the guest failed (console: $B/vm/console.log)"
}
wall=$(($(date +%s) - t0))
LOG=$B/vm/console.log
grep -a '^BENCH step ' "$LOG" >"$B/canbench/steps" || fail "no BENCH lines in $LOG"
grep -a '^VMTEST: rmem_default' "$LOG" | sed 's/^VMTEST: //'

# One awk over the floods: a row per step (its rounds' rates and drops),
# the zero-drop rates, CPU at -g 0.  Rates are sent / elapsed (cangen's
# run, its start included), as the guest measured them.
awk -v hz="$HZ" -v n="$N" -v wall="$wall" -v smp="$SMP" -v rounds="$ROUNDS" '
	function f(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
	# (a[k] = (k in a) ? ...: the element may exist before the test)
	function add(a, k, v,   o) { o = a[k]; a[k] = o == "" ? v : o "/" v }
	{
		st = f("gap_ms") " " f("burst")
		if (!(st in seen)) { seen[st] = 1; order[++ns] = st }
		s = f("sent") - f("lost"); r = f("sent") / (f("elapsed_ns") / 1e9)
		pd = f("pd_drops"); cd = f("cd_drops")
		if (!(st in lo) || r < lo[st]) lo[st] = r
		if (!(st in hi) || r > hi[st]) hi[st] = r
		add(pds, st, pd); add(cds, st, cd); add(dcs, st, f("cd_dropcount")); lost[st] += f("lost")
		spn[st] += f("pd_run_ns"); scn[st] += f("cd_run_ns"); spr[st] += f("pd_recv"); scr[st] += f("cd_recv")
		if (pd == 0 && r > pz) pz = r
		if (cd == 0 && r > cz) cz = r
		if (r > fr) fr = r
		tot += s; tpd += pd; tcd += cd
		if (f("gap_ms") == 0 && f("burst") == 1) {
			g0++; g0r += r; g0pd += pd; g0cd += cd
			pt += f("pd_ticks"); ct += f("cd_ticks"); pn += f("pd_run_ns"); cn += f("cd_run_ns")
			pr += f("pd_recv"); cr += f("cd_recv")
		}
	}
	END {
		printf "%-6s %5s %13s %-18s %-18s %-20s %s\n", "gap ms", "burst", "sent fr/s", "powerd drops", "candump drops",
			"(candump DROPCOUNT)", "us/frame pd/cd"
		for (i = 1; i <= ns; i++) {
			st = order[i]; split(st, a, " ")
			printf "%-6s %5s %6.0f-%-6.0f %-18s %-18s %-20s %.1f/%.1f%s\n", a[1], a[2], lo[st], hi[st], pds[st], cds[st],
				"(" dcs[st] ")", spr[st] ? spn[st] / spr[st] / 1e3 : 0, scr[st] ? scn[st] / scr[st] / 1e3 : 0,
				lost[st] ? "  " lost[st] " lost before the sockets" : ""
		}
		print "(one flood of " n " frames per step and round, " rounds " rounds; drops per round, in order;"
		print " us/frame: the scheduler'"'"'s runtime per frame received, over the flood and its drain)"
		print ""
		printf "zero-drop rate (highest achieved rate of a flood without a drop): powerd %s, candump %s frames/s",
			(pz ? sprintf("%.0f", pz) : "none"), (cz ? sprintf("%.0f", cz) : "none")
		if (pz && cz) printf " -> powerd / candump %.2fx", pz / cz
		print ""
		if (pz == fr || cz == fr) print "  (a reader lost nothing at the fastest flood: that is the sender'"'"'s limit, not the reader'"'"'s)"
		printf "all floods: powerd dropped %d, candump %d of %d frames\n", tpd, tcd, tot
		pus = (pr ? pt * 1e6 / hz / pr : 0); cus = (cr ? ct * 1e6 / hz / cr : 0)
		prs = (pr ? pn / pr / 1e3 : 0); crs = (cr ? cn / cr / 1e3 : 0)
		printf "CPU at -g 0 (%d floods, %.0f frames/s sent on average; drops powerd %d, candump %d), per frame received:\n", g0, g0 ? g0r / g0 : 0, g0pd, g0cd
		printf "  /proc/PID/stat utime+stime: powerd %.1f us (%d ticks / %d frames), candump %.1f us (%d / %d)", pus, pt, pr, cus, ct, cr
		if (pus > 0) printf " -> candump / powerd %.2fx", cus / pus
		print ""
		printf "  schedstat runtime:          powerd %.1f us, candump %.1f us", prs, crs
		if (prs > 0) printf " -> candump / powerd %.2fx", crs / prs
		print ""
		print "(QEMU TCG guest, " smp " vCPU, emulated on a shared host: the figures are the emulator'"'"'s, not a Pi'"'"'s; whole run " wall " s)"
		printf "bench can_vcan frames=%d rounds=%d powerd_zero_drop_fps=%.0f candump_zero_drop_fps=%.0f zero_drop_ratio=%s", n, rounds, pz, cz, ((pz && cz) ? sprintf("%.2f", pz / cz) : "-")
		printf " powerd_drops=%d candump_drops=%d delivered=%d fastest_fps=%.0f", tpd, tcd, tot, fr
		printf " powerd_us_per_frame=%.1f candump_us_per_frame=%.1f cpu_ratio=%s", pus, cus, ((pus > 0) ? sprintf("%.2f", cus / pus) : "-")
		printf " powerd_run_us_per_frame=%.1f candump_run_us_per_frame=%.1f run_ratio=%s wall_s=%d\n", prs, crs, ((prs > 0) ? sprintf("%.2f", crs / prs) : "-"), wall
	}' "$B/canbench/steps"
