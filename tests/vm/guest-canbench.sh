#!/bin/busybox sh
# shellcheck shell=dash
# /init of the CAN bench VM (tests/bench/can_vcan.sh boots it through
# tests/vm/run.sh with GUEST_INIT); the helpers are tests/vm/guest-lib.sh's.
#
# powerd's [can.bench] (protocol = raw, record = a candump -l style file)
# and `candump -l -d` read vcan0 at the same time, both with the kernel's
# default receive buffer, while cangen floods it: N frames a flood, one
# flood per entry of STEPS in /etc/vm/canbench.conf, GAP (ms, cangen -g)
# or GAPxBURST (cangen -g GAP -c BURST: BURST frames back to back, then
# the gap), fastest last, the series ROUNDS times.  Figures only, one
# console line per flood for the host to tabulate:
#   BENCH step k= round= gap_ms= burst= sent= lost= elapsed_ns=
#         pd_recv= pd_drops= pd_ticks= pd_run_ns=
#         cd_recv= cd_drops= cd_dropcount= cd_ticks= cd_run_ns=
# lost: dropped before any socket (netif_rx's backlog), nobody's drop.
# ticks: utime+stime from /proc/PID/stat over the flood and its drain
# (USER_HZ, 100 on Debian's x86_64 kernel; sampled at the 250 Hz tick);
# run_ns: the scheduler's own runtime of all the process's threads
# (/proc/PID/task/*/schedstat), which is not sampled.  A VMTEST FAIL only
# when the counts do not add up (then the figures mean nothing).

# shellcheck source=tests/vm/guest-lib.sh
. /etc/vm/guest-lib.sh
# shellcheck disable=SC1091 # written by the host (can_vcan.sh)
. /etc/vm/canbench.conf # N, STEPS, ROUNDS

on_fail() {
	for f in /tmp/*.err; do
		[ -s "$f" ] && awk -v p="GUEST ${f#/tmp/}: " '{ print p $0 }' "$f"
	done
	[ -f /tmp/powerd.log ] && tail -n 20 /tmp/powerd.log | sed 's|^|GUEST powerd: |'
}

load_modules
ip link set lo up
need_bins candump cangen cansend
vcan_up vcan0
echo "VMTEST: rmem_default $(cat /proc/sys/net/core/rmem_default) bytes, $(nproc) vCPU"

M=http://127.0.0.1:9480/metrics
m() { wget -qO- "$M" 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
m_is() { [ "$(m "$1")" = "$2" ]; }
# bound_n N: at least N raw sockets in vcan0's receive lists
bound_n() { [ "$(cat /proc/net/can/rcvlist_all /proc/net/can/rcvlist_fil 2>/dev/null | grep -c '^ *vcan0 .* raw$')" -ge "$1" ]; }
# The kernel's monotonic clock in ns: busybox's date has no %N, and
# /proc/uptime's 10 ms would be a few % of the fastest floods.
now_ns() { awk '/^now at/ { print $3; exit }' /proc/timer_list; }
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
run_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# With two vCPUs the sender gets CPU 0 to itself and both readers share
# CPU 1 (taskset masks, inherited by every thread): left to the scheduler,
# a reader that lands next to cangen is woken for every frame and the
# other batches, and that placement, not the reader, would decide the
# figures.  (With one vCPU all three share it.)
SEND=
READ=
if [ "$(nproc)" -ge 2 ]; then
	SEND="taskset 1"
	READ="taskset 2"
fi

mkdir -p /run/powerd /var/lib/powerd /tmp/cd
# No rcvbuf: the kernel's default, as candump without -r.  record: powerd
# writes every frame as candump -l does (stdio, flushed on its timer), so
# both do the same work per frame.
cat >/tmp/bench.conf <<EOF
[daemon]
state_dir = /var/lib/powerd
listen = 127.0.0.1:9480
socket = /run/powerd/powerd.sock
[can.bench]
interface = vcan0
protocol = raw
record = /tmp/pd-frames.log
[sink.out]
type = file
path = /tmp/out.lp
EOF
# shellcheck disable=SC2086 # $READ: a command and its mask, or nothing
$READ powerd -c /tmp/bench.conf >/tmp/powerd.log 2>&1 &
PD=$!
if ! wait_for 60 m_is 'powerd_source_up{source="bench",kind="can"}' 1 || ! wait_for 30 bound_n 1; then
	fail "powerd did not come up on vcan0 (pid $PD)"
	finish
fi
# -l: a candump-DATE.log in the cwd, ramfs like powerd's; -d: drops logged.
# shellcheck disable=SC2086
(cd /tmp/cd && exec $READ candump -l -d vcan0) 2>/tmp/candump.err &
CD=$!
if ! wait_for 30 bound_n 2; then
	fail "candump (pid $CD) not bound to vcan0"
	finish
fi
pass "powerd (pid $PD) and candump -l -d (pid $CD) read vcan0${SEND:+ (pinned: cangen to CPU 0, both readers to CPU 1)}"

F='powerd_can_frames_total{source="bench"}'
D='powerd_can_kernel_drops_total{source="bench"}'
settled() { [ $(($(m "$F") + $(m "$D"))) -ge "$1" ]; }
# The series runs ROUNDS times: a host that stalls the readers' vCPU for
# a moment makes both drop in that flood (they share it), so each rate is
# tried more than once, spread over the run.  Each flood K has its own
# identifier (1KK), its closing frame 7KK: the recorders' files, read at
# the end, then say which flood a frame (or a DROPCOUNT line, by the frame
# that revealed it) belongs to.
k=0
r=1
while [ $r -le "$ROUNDS" ]; do
	for st in $STEPS; do
		g=${st%x*}
		c=1
		[ "$g" = "$st" ] || c=${st#*x}
		id=$(printf '%X' $((0x100 + k)))
		mk=$(printf '%X' $((0x700 + k)))
		f0=$(m "$F")
		d0=$(m "$D")
		tx0=$(cat /sys/class/net/vcan0/statistics/tx_packets)
		rd0=$(cat /sys/class/net/vcan0/statistics/rx_dropped)
		pt0=$(ticks $PD)
		ct0=$(ticks $CD)
		pr0=$(run_ns $PD)
		cr0=$(run_ns $CD)
		t0=$(now_ns)
		# shellcheck disable=SC2086 # $SEND: a command and its mask, or nothing
		timeout 120 $SEND cangen vcan0 -g "$g" -c "$c" -n "$N" -I "$id" -L 8 -D i 2>/tmp/cangen.err ||
			fail "flood $k ($st): cangen exited $?"
		t1=$(now_ns)
		# What reached the sockets: what the backlog of netif_rx dropped
		# (vcan0's rx_dropped) never got to either reader.
		sent=$(($(cat /sys/class/net/vcan0/statistics/tx_packets) - tx0))
		lost=$(($(cat /sys/class/net/vcan0/statistics/rx_dropped) - rd0))
		# The queues drain (a default buffer holds a few hundred frames,
		# milliseconds of work) with nobody asking powerd anything:
		# /metrics would be charged to it.
		usleep 500000
		pt1=$(ticks $PD)
		ct1=$(ticks $CD)
		pr1=$(run_ns $PD)
		cr1=$(run_ns $CD)
		# A drop is reported with the next frame received: one more, after
		# the pause, counted in powerd's frames (left out of pd_recv below).
		# shellcheck disable=SC2086
		$SEND cansend vcan0 "$mk#00" || fail "flood $k: cansend"
		wait_for 30 settled $((f0 + d0 + sent - lost + 1)) ||
			fail "flood $k ($st): powerd has $(($(m "$F") - f0)) frames + $(($(m "$D") - d0)) drops of $((sent - lost + 1))"
		echo "$k $r $g $c $id $sent $lost $((t1 - t0)) $(($(m "$F") - f0)) $(($(m "$D") - d0))" \
			"$((pt1 - pt0)) $((ct1 - ct0)) $((pr1 - pr0)) $((cr1 - cr0))" >>/tmp/steps
		k=$((k + 1))
	done
	r=$((r + 1))
done

# candump writes its log through stdio: flushed when it ends (SIGTERM:
# it leaves its loop and closes the file); powerd's record at its stop.
usleep 500000
kill $CD
wait_pid 30 $CD
kill $PD
wait_pid 30 $PD || fail "powerd exited $? on SIGTERM"
log=
for f in /tmp/cd/candump-*.log; do [ -f "$f" ] && log=$f; done
[ -n "$log" ] || fail "candump wrote no log in /tmp/cd"
# per_id FILE: "ID frames" per identifier, and "dID N" for the DROPCOUNT
# lines, charged to the flood of the frame after them.
per_id() {
	awk '/^DROPCOUNT:/ { pend += $3; next }
		/^\(/ { split($3, a, "#"); n[a[1]]++
			if (pend) { s = substr(a[1], 2); dc["d1" s] += pend; pend = 0 } }
		END { for (k in n) print k, n[k]; for (k in dc) print k, dc[k] }' "$1"
}
per_id /tmp/pd-frames.log >/tmp/pd.ids
per_id "$log" >/tmp/cd.ids
count() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
while read -r k r g c id sent lost el pf pdrops pt ct pns cns; do
	pr=$(count "$id" /tmp/pd.ids)
	cr=$(count "$id" /tmp/cd.ids)
	cdc=$(count "d$id" /tmp/cd.ids)
	pr=${pr:-0} cr=${cr:-0} cdc=${cdc:-0}
	got=$((sent - lost))
	if [ "$pr" != $((pf - 1)) ] || [ $((pr + pdrops)) != "$got" ]; then
		fail "flood $k ($g x $c): powerd: $pr frames recorded, $pf counted (with the closing one)," \
			"$pdrops drops, $got delivered"
	fi
	[ "$cr" -le "$got" ] || fail "flood $k ($g x $c): candump logged $cr frames of $got"
	echo "BENCH step k=$k round=$r gap_ms=$g burst=$c sent=$sent lost=$lost elapsed_ns=$el" \
		"pd_recv=$pr pd_drops=$pdrops pd_ticks=$pt pd_run_ns=$pns" \
		"cd_recv=$cr cd_drops=$((got - cr)) cd_dropcount=$cdc cd_ticks=$ct cd_run_ns=$cns"
done </tmp/steps
finish
