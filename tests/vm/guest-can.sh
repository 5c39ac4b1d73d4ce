#!/bin/busybox sh
# shellcheck shell=dash
# /init of the real-kernel CAN test VM (tests/t_vm_can.sh boots it through
# tests/vm/run.sh with GUEST_INIT); the helpers are tests/vm/guest-lib.sh's.
#
# The host has no AF_CAN, so what only a kernel can say is asked here, on a
# vcan0 with can-utils from the host:
#   1. each capture canlog --regen rewrote (/etc/vm/can/*.regen, one per
#      file in tests/fixtures/can) is accepted by canplayer -I, and candump
#      sees exactly its frames, in order;
#   2. then /etc/vm/can-scenario.sh, when the initramfs has one (run.sh
#      VM_FILES), is sourced: the place for a powerd scenario on vcan0, with
#      these helpers and vcan0 up.

# shellcheck source=tests/vm/guest-lib.sh
. /etc/vm/guest-lib.sh

on_fail() {
	for f in /tmp/*.err; do
		# (awk: an error message without its newline still ends the line)
		[ -s "$f" ] && awk -v p="GUEST ${f#/tmp/}: " '{ print p $0 }' "$f"
	done
}

load_modules
ip link set lo up
need_bins candump canplayer
vcan_up vcan0
pass "vcan0 up"

# ------------------------------------------------------------------ 1. --regen -> canplayer -I -> candump
# first_diff WANT GOT: the first frame (line) where they part.
first_diff() {
	awk 'NR == FNR { w[FNR] = $0; nw = FNR; next }
		!d && w[FNR] != $0 { d = FNR; g = $0 }
		END {
			if (!d && FNR < nw) d = FNR + 1
			if (d) printf "frame %d: want %s, got %s", d, d <= nw ? w[d] : "none", g == "" ? "none" : g
		}' "$1" "$2"
}

# A raw socket bound to vcan0 is in the af_can receive lists: from then on
# every frame sent there is queued for it, so the player may start.
bound() { grep -qs '^ *vcan0 .* raw$' /proc/net/can/rcvlist_all /proc/net/can/rcvlist_fil; }
# candump's default receive buffer holds a few hundred frames and canplayer
# -t -g 0 does not wait for the reader; the largest capture is ~50k frames.
RCVBUF=$((64 * 1024 * 1024))
# Generous: the largest capture takes TCG some seconds, a busy host more.
PLAY_S=300

for f in /etc/vm/can/*.regen; do
	[ -f "$f" ] || {
		fail "no --regen files in /etc/vm/can (t_vm_can.sh puts them there)"
		break
	}
	n=${f##*/}
	n=${n%.regen}
	want=$(grep -c '^(' "$f")
	if [ "$want" = 0 ]; then
		fail "$n: the --regen file has no frames"
		continue
	fi
	# canlog --iface names only the CSV's frames: a candump log's keep their
	# interface (can0), so each one in the file is sent on vcan0.
	map=$(awk '/^\(/ { print "vcan0=" $2 }' "$f" | sort -u | tr '\n' ' ')
	map=${map% }
	# -n: candump exits on its own after the last frame wanted, its output
	# flushed (a signal would end it with frames still queued on its
	# socket); -d: drops reported in that output.  candump stops at $want,
	# so vcan0's tx counter tells whether the player sent more.
	candump -L -d -r $RCVBUF -n "$want" vcan0 >"/tmp/$n.got" 2>"/tmp/$n.candump.err" &
	CD=$!
	if ! wait_for 30 bound; then
		fail "$n: candump (pid $CD) not bound to vcan0 after 30 s"
		kill "$CD" 2>/dev/null
		wait "$CD"
		continue
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	tx0=$(cat /sys/class/net/vcan0/statistics/tx_packets)
	# shellcheck disable=SC2086 # $map: one assignment a word
	timeout $PLAY_S canplayer -t -g 0 -I "$f" $map >"/tmp/$n.canplayer.err" 2>&1
	prc=$?
	# After a failed player the rest never comes: no use waiting for it.
	[ "$prc" = 0 ] || kill "$CD" 2>/dev/null
	wait_pid 60 "$CD"
	crc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	sent=$(($(cat /sys/class/net/vcan0/statistics/tx_packets) - tx0))
	if [ "$prc" = 0 ] && [ "$sent" = "$want" ]; then
		pass "$n: canplayer -I accepts the --regen output ($want frames sent, $map)"
	else
		fail "$n: canplayer -I exited $prc, $sent frames of $want sent on vcan0"
	fi
	case "$prc.$crc" in
	0.0) ;;
	0.137) fail "$n: candump (pid $CD) still short of $want frames after 60 s: killed" ;;
	0.*) fail "$n: candump (pid $CD) exited $crc" ;;
	*) ;; # stopped above: the player's failure is the one to tell
	esac
	awk '/^\(/ { print $3 }' "$f" >/tmp/want.ids
	awk '/^\(/ { print $3 }' "/tmp/$n.got" >/tmp/got.ids
	if cmp -s /tmp/want.ids /tmp/got.ids; then
		pass "$n: candump saw the $want frames, same id#data, same order" \
			"($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
	else
		fail "$n: candump saw $(wc -l </tmp/got.ids) frames of $want; $(first_diff /tmp/want.ids /tmp/got.ids)"
		grep -v '^(' "/tmp/$n.got" | sed "s|^|GUEST candump $n: |"
	fi
done

# ------------------------------------------------------------------ 2. a scenario on vcan0
if [ -f /etc/vm/can-scenario.sh ]; then
	echo "VMTEST: sourcing /etc/vm/can-scenario.sh"
	# shellcheck disable=SC1091 # added later, through VM_FILES
	. /etc/vm/can-scenario.sh
fi

finish
