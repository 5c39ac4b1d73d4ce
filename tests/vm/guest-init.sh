#!/bin/busybox sh
# shellcheck shell=dash
# /init of the real-kernel GPIO test VM (see tests/vm/run.sh); the helpers
# (pass, fail, finish, wait_for) are tests/vm/guest-lib.sh's.
#
# A gpio-sim chip plays the electricity meter: line 3, named PULSE0, is the
# photoresistor input (pulled up; the LED flash pulls it low); vmpulse
# (tests/vm/vmpulse.c) drives it by writing the simulated pull.  powerd finds
# the line by its name.  Results go to the console as "VMTEST PASS|FAIL: ..."
# lines and one final "VMTEST DONE: fails=N"; the host decides on those.
#
# The widths the guest produces are only intended: on a busy host the TCG
# vCPU stalls at random, and a 0 ms glitch can come out 25 ms wide.  So the
# expected counts come from what the kernel itself queued for powerd:
# kprobes, traced through ftrace, where the GPIO character device fills in
# each line event (timestamp and edge kind, the very record powerd reads);
# vmpulse expect applies the min_pulse_ms rule to those timestamps.
# Every wait is on a state (a file, /metrics, the trace), with a generous
# timeout; the only sleeps are the driven signal's.
#
# Scenario:
#   1. powerd: 6 flashes (3 with a glitch in the gap after them), then exact
#      counters, energy and power against the kernel's events, powerctl;
#   2. SIGTERM (exit 0), restart: the energy counter continues, 2 more flashes;
#   3. SIGKILL once the state file holds the count, restart: nothing
#      persisted is lost.

# shellcheck source=tests/vm/guest-lib.sh
. /etc/vm/guest-lib.sh
mkdir -p /run/powerd /var/lib/powerd

on_fail() {
	for f in /tmp/powerd*.log /tmp/drive*.out /tmp/events*.txt; do
		[ -f "$f" ] && sed "s|^|GUEST ${f#/tmp/}: |" "$f"
	done
	[ -f /tmp/metrics.txt ] && grep -E '^powerd_(pulse|ring)' /tmp/metrics.txt |
		sed 's|^|GUEST last metrics: |'
}

load_modules
mount -t configfs configfs /sys/kernel/config
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
ip link set lo up

# ------------------------------------------------------------------ gpio-sim
CFG=/sys/kernel/config/gpio-sim/chip0
PULSE_LINE=3
if ! mkdir $CFG || ! mkdir $CFG/bank0; then
	fail "gpio-sim configfs"
	finish
fi
echo 8 >$CFG/bank0/num_lines
echo powerd-vmtest >$CFG/bank0/label
mkdir $CFG/bank0/line$PULSE_LINE
echo PULSE0 >$CFG/bank0/line$PULSE_LINE/name
echo 1 >$CFG/live
CHIP=$(cat $CFG/bank0/chip_name)
DEV=$(cat $CFG/dev_name)
SIM=/sys/devices/platform/$DEV/$CHIP
PULL=$SIM/sim_gpio$PULSE_LINE/pull
echo "VMTEST: gpio-sim $DEV: $CHIP, line $PULSE_LINE = PULSE0"
if [ ! -c "/dev/$CHIP" ] || [ ! -w "$PULL" ]; then
	fail "gpio-sim: /dev/$CHIP or $PULL missing"
	finish
fi

# ------------------------------------------------------------------ the kernel's events
# kprobes where the GPIO character device makes the event records powerd
# reads (__kfifo_in, which queues them, is notrace):
#   - v2 uAPI: linereq_put_event(lr, le) gets the finished record; its
#     layout is the uAPI's, timestamp at 0 and edge kind at 8;
#   - v1 uAPI: lineevent_irq_thread(irq, le) copies le->timestamp (offset
#     from the kernel's BTF) into the record, then takes the edge kind from
#     what gpiod_get_value_cansleep() returns (a kretprobe).
# All run in the line's IRQ thread ("irq/N-powerd-house"), which tells them
# from other callers; vmpulse expect pairs the v1 ones.
T=/sys/kernel/tracing
kprobe() { echo "$1" >>$T/kprobe_events 2>>/tmp/kprobe.err; }
# shellcheck disable=SC2016 # $arg2, $comm, $retval are the kprobe's
if ! V1TS=$(vmpulse offset lineevent_state timestamp 2>>/tmp/kprobe.err) ||
	! kprobe 'p:powerd_vm/edge linereq_put_event ts=+0($arg2):u64 id=+8($arg2):u32 comm=$comm' ||
	! kprobe "p:powerd_vm/v1ts lineevent_irq_thread ts=+$V1TS(\$arg2):u64 comm=\$comm" ||
	! kprobe 'r:powerd_vm/v1level gpiod_get_value_cansleep level=$retval:s32 comm=$comm' ||
	! echo 1 >$T/events/powerd_vm/enable; then
	fail "kprobes for the line events: $(cat /tmp/kprobe.err) $(cat $T/error_log)"
	finish
fi
pass "kprobes trace the line events the kernel queues (v1 timestamp at +$V1TS)"
kernel_events() { vmpulse expect $MIN_PULSE_MS $T/trace | sed -n 's/^EDGES=//p'; }
events_reach() { [ "$(kernel_events)" -ge "$1" ]; }

# ------------------------------------------------------------------ driving
# The LED is on while the line is low (photoresistor to ground, pull-up).
# vmpulse drive writes the pull, holding each level the given ms.  A glitch
# is "down:0": two writes back to back, far under min_pulse_ms when the
# guest runs smoothly.  This needs the single vCPU that run.sh gives the
# guest: with two, the IRQ thread can read the line level for an edge after
# the next write (the kernel takes an edge's kind from that read), and the
# driver's writes and the kernel's events no longer match one to one.
MIN_PULSE_MS=20
FLASH="down:80"
# Where one flash must come out >= min_pulse_ms however the host stalls.
LONG_FLASH="down:200"
WRITES=0 # level changes driven since the trace was last cleared
# Files are named after the tag without its blanks.
drive() { # TAG STEP...
	_tag=$1
	_out=/tmp/drive.$(echo "$1" | tr -d ' ').out
	shift
	if ! vmpulse drive "$PULL" "$@" >"$_out" 2>&1; then
		fail "$_tag: vmpulse drive: $(cat "$_out")"
		finish
	fi
	eval "$(grep '^[A-Z_]*=' "$_out")"
	WRITES=$((WRITES + CHANGES))
	echo "VMTEST: $_tag driven: $(grep '^# ' "$_out" | cut -c3-)"
	# The IRQ thread queues an edge's event before the writer's next step;
	# the last one may still be on its way.
	wait_for 30 events_reach $WRITES ||
		fail "$_tag: $WRITES level changes driven, the kernel queued $(kernel_events) events"
}

# observe TAG: EDGES, FLASHES, GLITCHES, INTERVAL_NS, LAST_FLASH_NS from the
# kernel's events since the trace was last cleared.
observe() {
	_ev=/tmp/events.$(echo "$1" | tr -d ' ').txt
	cp $T/trace "$_ev"
	if ! vmpulse expect $MIN_PULSE_MS "$_ev" >/tmp/expect.out 2>&1; then
		fail "$1: vmpulse expect: $(cat /tmp/expect.out)"
		finish
	fi
	eval "$(grep '^[A-Z_]*=' /tmp/expect.out)"
	sed -n "s|^# |VMTEST: $1, the kernel saw: |p" /tmp/expect.out
	if [ "$EDGES" = "$WRITES" ] && [ "$REPEATS" = 0 ] && [ "$DISORDER" = 0 ]; then
		pass "$1: the kernel queued one event per driven level change ($WRITES), in order"
	else
		fail "$1: $WRITES level changes driven; the kernel queued $EDGES events," \
			"$REPEATS without a level change, $DISORDER out of order"
	fi
}

# ------------------------------------------------------------------ powerd helpers
URL=http://127.0.0.1:9480
SOCK=/run/powerd/powerd.sock
STATE=/var/lib/powerd/pulse.house.state
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
min_pulse_ms = $MIN_PULSE_MS
EOF

# (busybox-static 1.35 wget crashes with -T: timeout(1) bounds it instead)
# T_FETCH: CLOCK_MONOTONIC just after the answer, for the power's bound.
fetch() {
	timeout 10 wget -q -O /tmp/metrics.txt "$URL/metrics" 2>/dev/null || return 1
	T_FETCH=$(vmpulse now)
}
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
serving() { # the meter is on /metrics and its line requested (debugfs)
	kill -0 "$PD" 2>/dev/null || return 0 # (start_powerd tells)
	grep -q '|powerd-house ' /sys/kernel/debug/gpio &&
		fetch && grep -q '^powerd_pulse_flashes_total{' /tmp/metrics.txt
}
start_powerd() { # N
	powerd -c /etc/powerd.conf 2>"/tmp/powerd$1.log" &
	PD=$!
	if ! wait_for 120 serving; then
		fail "powerd run $1: no /metrics with the meter and its line requested after 120 s"
		sed 's/^/GUEST debugfs gpio: /' /sys/kernel/debug/gpio
		finish
	fi
	if ! kill -0 $PD 2>/dev/null; then
		wait $PD
		fail "powerd run $1 exited ($?) before serving /metrics"
		finish
	fi
	pass "powerd run $1 serves /metrics, line requested (pid $PD)"
	: >$T/trace # this run's events only
	WRITES=0
}

# stop_powerd SIGNAL WANT_RC
stop_powerd() {
	kill -"$1" $PD
	( # a watchdog, not a wait: powerd must have exited long before
		sleep 60
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

# settle TAG FLASH_BASE: until /metrics shows every observed edge and the
# flashes and glitches they make (at most 60 s), then check them exactly.
metrics_show() { # EDGES FLASHES GLITCHES
	fetch && [ "$(house powerd_pulse_edges_total)" = "$1" ] &&
		[ "$(house powerd_pulse_flashes_total)" = "$2" ] &&
		[ "$(house powerd_pulse_glitches_total)" = "$3" ]
}
settle() {
	observe "$1"
	F=$(($2 + FLASHES))
	wait_for 60 metrics_show "$EDGES" $F "$GLITCHES" ||
		echo "VMTEST: $1: /metrics never matched the kernel's events in 60 s"
	check_num "$1: powerd_pulse_edges_total" "$(house powerd_pulse_edges_total)" "$EDGES"
	check_num "$1: powerd_pulse_flashes_total" "$(house powerd_pulse_flashes_total)" $F
	check_num "$1: powerd_pulse_glitches_total" "$(house powerd_pulse_glitches_total)" "$GLITCHES"
	check_num "$1: powerd_pulse_energy_joules_total" \
		"$(house powerd_pulse_energy_joules_total)" $((F * 3600))
}

# check_power WHAT: powerd's power against the interval between the last two
# flashes' kernel timestamps.  Read later than that interval after the last
# flash, the power is the upper bound from the time since it (README), so
# the reading must lie between the two (1e-9 for the decimal rendering).
check_power() {
	P=$(house powerd_pulse_power_watts)
	if [ "$INTERVAL_NS" = 0 ]; then
		fail "$1: the kernel saw $FLASHES flash(es) since the start: no interval to check the power '$P' W against"
		return
	fi
	# 3.6e15 / (impulses_per_kwh * ns), impulses_per_kwh = 1000
	read -r HI LO IV <<-EOF
		$(awk -v i="$INTERVAL_NS" -v l="$LAST_FLASH_NS" -v t="$T_FETCH" 'BEGIN {
			s = t - l; if (s < i) s = i
			printf "%.9f %.9f %.6f", 3.6e12 / i, 3.6e12 / s, i / 1e9 }')
	EOF
	_what="power '$P' W; the kernel's last interval $IV s gives $HI W (read later: >= $LO W)"
	if [ -n "$P" ] && awk -v p="$P" -v hi="$HI" -v lo="$LO" \
		'BEGIN { exit !(p <= hi * (1 + 1e-9) && p >= lo * (1 - 1e-9)) }'; then
		pass "$1: $_what"
	else
		fail "$1: $_what"
	fi
}

check_health() { # WHAT
	check_num "$1: powerd_pulse_events_lost_total" "$(house powerd_pulse_events_lost_total)" 0
	check_num "$1: powerd_ring_dropped_total{ring=edges}" \
		"$(mval powerd_ring_dropped_total 'ring="edges"')" 0
}

# ------------------------------------------------------------------ 1. flashes and glitches
for b in powerd powerctl vmpulse; do
	if [ ! -x /bin/$b ]; then
		fail "$b missing from the initramfs"
		finish
	fi
done
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
# decaying upper bound (check_power accepts either).
# powerctl capture records the line's edges as the meter takes them: every
# level change driven, none lost (checked if the drive ended within it).
powerctl -s $SOCK capture house 10 -o /tmp/cap.txt 2>/tmp/cap.err &
CAP=$!
wait_for 20 grep -q capturing /tmp/cap.err || fail "powerctl capture did not start: $(cat /tmp/cap.err)"
CAP_T0=$(up_s)
drive "run 1" $FLASH up:420 \
	$FLASH up:200 down:0 up:220 \
	$FLASH up:200 down:0 up:220 \
	$FLASH up:200 down:0 up:220 \
	$FLASH up:1420 \
	$FLASH up:0
CAP_T1=$(up_s)
echo "VMTEST: run 1 intended: 6 flashes of 80 ms, 3 glitches of 0 ms"
settle "run 1" 0
N1=$F
echo "VMTEST: run 1 metrics: $(grep '^powerd_pulse_.*house' /tmp/metrics.txt | tr '\n' ' ')"
check_power "run 1"
[ "$GLITCHES" -gt 0 ] ||
	echo "VMTEST: run 1: note: every glitch came out >= $MIN_PULSE_MS ms; the filter's rejection went untested"
check_health "run 1"

if ! wait $CAP; then
	fail "powerctl capture: $(cat /tmp/cap.err)"
elif [ $((CAP_T1 - CAP_T0)) -ge 9 ]; then
	echo "VMTEST: note: run 1's drive outlasted the capture; its edge count went unchecked"
elif head -1 /tmp/cap.txt | grep -q "meter house, 10 s, $WRITES edges, 0 lost (kernel), 0 not kept" &&
	[ "$(grep -c '^[0-9]' /tmp/cap.txt)" = "$WRITES" ]; then
	pass "powerctl capture: the $WRITES edges driven, none lost"
else
	fail "powerctl capture: $(head -1 /tmp/cap.txt), want $WRITES edges ($(cat /tmp/cap.err))"
fi

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
drive "run 2a" $LONG_FLASH up:0
settle "run 2a" $N1
# The first flash after a start has no interval: the power is unknown (no
# sample), not the interval across the restart nor a stale value.
if [ "$FLASHES" = 1 ]; then
	P=$(house powerd_pulse_power_watts)
	if [ -z "$P" ]; then
		pass "run 2: power unknown after the first flash since start"
	else
		fail "run 2: power $P W after the first flash since start, want no sample"
	fi
else
	fail "run 2: the kernel saw $FLASHES flashes for one driven (a broken guest?)"
fi
# (the first pull-up changes nothing: it only holds the gap)
drive "run 2b" up:700 $LONG_FLASH up:0
settle "run 2b" $N1
N2=$F
check_power "run 2"
check_health "run 2"

# ------------------------------------------------------------------ 3. power cut (SIGKILL)
# persist_interval = 1s: once the state file holds N2, a SIGKILL loses nothing.
if wait_for 30 grep -qx "flashes $N2" $STATE; then
	pass "run 2: $STATE holds flashes $N2"
else
	fail "run 2: $STATE never held flashes $N2 in 30 s: $(tr '\n' ' ' <$STATE)"
fi
stop_powerd KILL 137
start_powerd 3
check_num "run 3 (after SIGKILL): powerd_pulse_flashes_total" \
	"$(house powerd_pulse_flashes_total)" $N2
stop_powerd TERM 0

finish
