#!/bin/busybox sh
# shellcheck shell=dash
# /init of the real-kernel test VM (see tests/vm/run.sh).
#
# A gpio-sim chip plays the electricity meter: line 3, named PULSE0, is the
# photoresistor input (pulled up; the LED flash pulls it low), and the test
# drives it by writing the simulated pull.  powerd finds the line by its
# name.  Results go to the console as "VMTEST PASS|FAIL: ..." lines and one
# final "VMTEST DONE: fails=N"; the host decides on those.
#
# Scenario:
#   0. calibration on a spare line watched by gpiomon: the widths the guest
#      really produces for a flash and for a glitch (kernel timestamps);
#   1. powerd: 6 flashes (3 with a glitch in the gap after them), then exact
#      counters, energy, power against the driven interval, powerctl;
#   2. SIGTERM (exit 0), restart: the energy counter continues, 2 more flashes;
#   3. SIGKILL after persist_interval, restart: nothing persisted is lost.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run/powerd /var/lib/powerd
echo
echo "VMTEST: kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime)s"

FAILS=0
pass() { echo "VMTEST PASS: $*"; }
fail() {
	echo "VMTEST FAIL: $*"
	FAILS=$((FAILS + 1))
}
finish() {
	if [ "$FAILS" != 0 ]; then
		for f in /tmp/powerd*.log; do
			[ -f "$f" ] && sed "s|^|GUEST ${f#/tmp/}: |" "$f"
		done
		[ -f /tmp/metrics.txt ] && grep -E '^powerd_(pulse|ring)' /tmp/metrics.txt |
			sed 's|^|GUEST last metrics: |'
	fi
	echo "VMTEST DONE: fails=$FAILS uptime=$(cut -d' ' -f1 /proc/uptime)s"
	poweroff -f
}

while read -r m; do
	insmod "$m" || fail "insmod $m"
done </etc/vm/load-order
mount -t configfs configfs /sys/kernel/config
ip link set lo up

# ------------------------------------------------------------------ gpio-sim
CFG=/sys/kernel/config/gpio-sim/chip0
PULSE_LINE=3
CAL_LINE=5
if ! mkdir $CFG || ! mkdir $CFG/bank0; then
	fail "gpio-sim configfs"
	finish
fi
echo 8 >$CFG/bank0/num_lines
echo powerd-vmtest >$CFG/bank0/label
mkdir $CFG/bank0/line$PULSE_LINE $CFG/bank0/line$CAL_LINE
echo PULSE0 >$CFG/bank0/line$PULSE_LINE/name
echo CAL0 >$CFG/bank0/line$CAL_LINE/name
echo 1 >$CFG/live
CHIP=$(cat $CFG/bank0/chip_name)
DEV=$(cat $CFG/dev_name)
SIM=/sys/devices/platform/$DEV/$CHIP
echo "VMTEST: gpio-sim $DEV: $CHIP, line $PULSE_LINE = PULSE0"
if [ ! -c "/dev/$CHIP" ] || [ ! -w "$SIM/sim_gpio$PULSE_LINE/pull" ]; then
	fail "gpio-sim: /dev/$CHIP or $SIM/sim_gpio$PULSE_LINE/pull missing"
	finish
fi

# ------------------------------------------------------------------ driving
# The LED is on while the line is low (photoresistor to ground, pull-up).
PULL=$SIM/sim_gpio$PULSE_LINE/pull
FLASH_MS=80
# Guest uptime (10 ms resolution) just before a flash's falling edge: the
# power check compares powerd's interval against these.
T_FLASH=0
flash() {
	read -r T_FLASH _ </proc/uptime
	echo pull-down >"$PULL"
	usleep $((FLASH_MS * 1000))
	echo pull-up >"$PULL"
}
# Two writes back to back: a pulse of 0.5-1.5 ms, far under min_pulse_ms
# (measured by the calibration below).  This needs the single vCPU that
# run.sh gives the guest: with two, TCG stretches such pulses to 0.2-7 ms at
# random, and the kernel's v1 line-event path, which takes an edge's
# direction from the line level read later in its IRQ thread, misreports
# a third to a half of them (two rising edges, or one event for both).
glitch() {
	echo pull-down >"$PULL"
	echo pull-up >"$PULL"
}
gap_ms() { usleep $(($1 * 1000)); }

# ------------------------------------------------------------------ 0. calibration
# gpiomon (libgpiod, the same v1 uAPI as powerd) watches a spare line while
# the same functions drive it: kernel timestamps of what the guest produces.
PULL=$SIM/sim_gpio$CAL_LINE/pull
echo pull-up >"$PULL"
NCAL=10
gpiomon -b -n $((2 + 2 * NCAL)) -F '%e %s %n' "$CHIP" $CAL_LINE >/tmp/gpiomon.out 2>&1 &
MON=$!
sleep 0.5
flash
gap_ms 100
i=0
while [ $i -lt $NCAL ]; do
	glitch
	gap_ms 50
	i=$((i + 1))
done
(
	sleep 5
	kill $MON 2>/dev/null
) &
wait $MON
# Low periods: falling (0) to the next rising (1) edge; an edge of the same
# kind twice in a row is a misreported pulse.
CAL=$(awk '{ t = $2 + $3 / 1e9 }
	$1 == 0 { if (down) bad++; down = t; next }
	$1 == 1 { if (!down) { bad++; next }
		w = (t - down) * 1000; down = 0; n++
		if (n == 1) { flash = w; next }
		g++; if (w > gmax) gmax = w; if (!gmin || w < gmin) gmin = w }
	END { printf "%d %d %.2f %.2f %.2f", g, bad, flash, gmin, gmax }' /tmp/gpiomon.out)
# shellcheck disable=SC2086 # split into the fields
set -- $CAL
echo "VMTEST: calibration (gpiomon, kernel timestamps): flash $3 ms; $1 glitches $4..$5 ms; $2 misreported edges"
if [ "$1" = "$NCAL" ] && [ "$2" = 0 ] && awk -v f="$3" -v g="$5" -v fm=$FLASH_MS \
	'BEGIN { exit !(f >= fm && g < 10) }'; then
	pass "calibration: flashes >= ${FLASH_MS} ms, glitches < 10 ms (half of min_pulse_ms), all edges seen"
else
	fail "calibration: want $NCAL glitches < 10 ms, a flash >= ${FLASH_MS} ms, no misreported edge"
	sed 's/^/GUEST gpiomon: /' /tmp/gpiomon.out
fi
PULL=$SIM/sim_gpio$PULSE_LINE/pull

# ------------------------------------------------------------------ powerd helpers
URL=http://127.0.0.1:9480
SOCK=/run/powerd/powerd.sock
cat >/etc/powerd.conf <<EOF
[daemon]
state_dir = /var/lib/powerd
listen = 127.0.0.1:9480
socket = $SOCK
persist_interval = 1s

[pulse.house]
chip = $CHIP
line = PULSE0
edge = falling
bias = pull-up
impulses_per_kwh = 1000
min_pulse_ms = 20
EOF

# (busybox-static 1.35 wget crashes with -T: timeout(1) bounds it instead)
fetch() { timeout 10 wget -q -O /tmp/metrics.txt "$URL/metrics" 2>/dev/null; }
# mval NAME LABEL: the value of NAME's sample whose labels contain LABEL.
mval() {
	awk -v n="$1" -v l="$2" 'index($1, n "{") == 1 && index($1, l) { print $2; exit }' \
		/tmp/metrics.txt
}
house() { mval "$1" 'meter="house"'; }
check_num() { # WHAT GOT WANT
	if [ -n "$2" ] && awk -v a="$2" -v b="$3" 'BEGIN { exit !(a + 0 == b + 0) }'; then
		pass "$1 = $2"
	else
		fail "$1 = '$2', want $3"
	fi
}

PD=
start_powerd() { # N
	powerd -c /etc/powerd.conf 2>"/tmp/powerd$1.log" &
	PD=$!
	i=0
	while [ $i -lt 150 ]; do
		if ! kill -0 $PD 2>/dev/null; then
			wait $PD
			fail "powerd run $1 exited ($?) before serving /metrics"
			finish
		fi
		fetch && grep -q '^powerd_pulse_flashes_total{' /tmp/metrics.txt && break
		sleep 0.2
		i=$((i + 1))
	done
	if [ $i -ge 150 ]; then
		fail "powerd run $1: no /metrics with the meter after 30 s"
		finish
	fi
	pass "powerd run $1 serves /metrics (pid $PD)"
}

# stop_powerd SIGNAL WANT_RC
stop_powerd() {
	kill -"$1" $PD
	(
		sleep 15
		kill -KILL $PD 2>/dev/null
	) &
	wd=$!
	wait $PD
	rc=$?
	kill $wd 2>/dev/null
	if [ "$rc" = "$2" ]; then
		pass "powerd exits $rc on SIG$1"
	else
		fail "powerd exit status $rc on SIG$1, want $2"
	fi
	PD=
}

# wait_flashes N: until /metrics reports N flashes (at most 3 s).
wait_flashes() {
	i=0
	while [ $i -lt 30 ]; do
		fetch && [ "$(house powerd_pulse_flashes_total)" = "$1" ] && return 0
		usleep 100000
		i=$((i + 1))
	done
	return 1
}

check_power() { # WHAT T0 T1: powerd's power against the driven interval
	P=$(house powerd_pulse_power_watts)
	EXP=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", 3600 / (b - a) }')
	if [ -n "$P" ] && awk -v p="$P" -v e="$EXP" 'BEGIN { d = p - e; if (d < 0) d = -d; exit !(d <= 0.2 * e) }'; then
		pass "$1: power $P W, driven interval $2 -> $3 s gives $EXP W (+-20 %)"
	else
		fail "$1: power '$P' W, driven interval $2 -> $3 s gives $EXP W (+-20 %)"
	fi
}

check_health() { # WHAT
	check_num "$1: powerd_pulse_events_lost_total" "$(house powerd_pulse_events_lost_total)" 0
	check_num "$1: powerd_ring_dropped_total{ring=edges}" \
		"$(mval powerd_ring_dropped_total 'ring="edges"')" 0
}

# ------------------------------------------------------------------ 1. flashes and glitches
if [ ! -x /bin/powerd ] || [ ! -x /bin/powerctl ]; then
	fail "powerd or powerctl missing from the initramfs"
	finish
fi
if powerd --check -c /etc/powerd.conf >/tmp/check.out 2>&1; then
	pass "powerd --check accepts the test configuration"
else
	fail "powerd --check: $(cat /tmp/check.out)"
fi
echo pull-up >"$PULL" # LED off before powerd starts
start_powerd 1

# 6 flashes ~0.5 s apart; after flashes 2, 3 and 4 a glitch in the middle of
# the gap (each is one short active period between two long inactive ones:
# one glitch for the filter).  The last gap is longer (~1.5 s) so that the
# power read after the last flash is still the last interval's, not yet the
# decaying upper bound.
flash
gap_ms 420
for _ in 2 3 4; do
	flash
	gap_ms 200
	glitch
	gap_ms 220
done
flash
T_PREV=$T_FLASH
gap_ms 1420
flash
T_LAST=$T_FLASH
N1=6
G1=3
if wait_flashes $N1; then
	pass "run 1: $N1 flashes accepted"
else
	fail "run 1: flashes never reached $N1"
fi
echo "VMTEST: run 1 metrics: $(grep '^powerd_pulse_.*house' /tmp/metrics.txt | tr '\n' ' ')"
check_num "run 1: powerd_pulse_flashes_total" "$(house powerd_pulse_flashes_total)" $N1
check_num "run 1: powerd_pulse_glitches_total" "$(house powerd_pulse_glitches_total)" $G1
check_num "run 1: powerd_pulse_edges_total" "$(house powerd_pulse_edges_total)" $((2 * N1 + 2 * G1))
check_num "run 1: powerd_pulse_energy_joules_total" \
	"$(house powerd_pulse_energy_joules_total)" $((N1 * 3600))
check_power "run 1" "$T_PREV" "$T_LAST"
check_health "run 1"

# powerctl over the Unix socket: the table and the JSON agree with /metrics.
if timeout 10 powerctl -s $SOCK status >/tmp/powerctl.out 2>&1; then
	sed 's/^/VMTEST powerctl: /' /tmp/powerctl.out
	if grep -w house /tmp/powerctl.out | grep -qw "$N1"; then
		pass "powerctl status: meter house with $N1 flashes"
	else
		fail "powerctl status: no row for house with $N1 flashes"
	fi
else
	fail "powerctl status exited $?: $(cat /tmp/powerctl.out)"
fi
if timeout 10 powerctl -s $SOCK status --json >/tmp/powerctl.json 2>&1; then
	if tr -d ' \t\n' </tmp/powerctl.json | grep -q "\"name\":\"house\",.*\"flashes\":${N1}[,}]"; then
		pass "powerctl status --json: house has flashes $N1"
	else
		fail "powerctl status --json: no house with flashes $N1"
		sed 's/^/GUEST powerctl.json: /' /tmp/powerctl.json
	fi
else
	fail "powerctl status --json exited $?: $(cat /tmp/powerctl.json)"
fi

# ------------------------------------------------------------------ 2. restart after SIGTERM
stop_powerd TERM 0
echo "VMTEST: state_dir: $(cd /var/lib/powerd && wc -c ./* 2>&1 | tr '\n' ' ')"
start_powerd 2
check_num "run 2 (persisted): powerd_pulse_flashes_total" "$(house powerd_pulse_flashes_total)" $N1
check_num "run 2 (persisted): powerd_pulse_energy_joules_total" \
	"$(house powerd_pulse_energy_joules_total)" $((N1 * 3600))
check_num "run 2: powerd_pulse_glitches_total since start" "$(house powerd_pulse_glitches_total)" 0
flash
T_PREV=$T_FLASH
# The first flash after a start has no interval: the power is unknown (no
# sample), not the interval across the restart nor a stale value.
if wait_flashes $((N1 + 1)); then
	P=$(house powerd_pulse_power_watts)
	if [ -z "$P" ]; then
		pass "run 2: power unknown after the first flash since start"
	else
		fail "run 2: power $P W after the first flash since start, want no sample"
	fi
else
	fail "run 2: flashes never reached $((N1 + 1))"
fi
gap_ms 700
flash
T_LAST=$T_FLASH
N2=$((N1 + 2))
wait_flashes $N2 || fail "run 2: flashes never reached $N2"
check_num "run 2: powerd_pulse_flashes_total" "$(house powerd_pulse_flashes_total)" $N2
check_num "run 2: powerd_pulse_energy_joules_total" \
	"$(house powerd_pulse_energy_joules_total)" $((N2 * 3600))
check_num "run 2: powerd_pulse_edges_total" "$(house powerd_pulse_edges_total)" 4
check_power "run 2" "$T_PREV" "$T_LAST"
check_health "run 2"

# ------------------------------------------------------------------ 3. power cut (SIGKILL)
# persist_interval = 1s: what was counted more than a second ago survives.
sleep 2
stop_powerd KILL 137
start_powerd 3
check_num "run 3 (after SIGKILL): powerd_pulse_flashes_total" \
	"$(house powerd_pulse_flashes_total)" $N2
stop_powerd TERM 0

finish
