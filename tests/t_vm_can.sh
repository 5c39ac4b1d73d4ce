#!/bin/bash
# Real-kernel CAN test: Debian's kernel under QEMU with vcan and can-raw,
# can-utils from the host in the guest (see tests/vm/guest-can.sh): every
# capture in tests/fixtures/can, rewritten by BUILD_DIR's canlog --regen, is
# played by canplayer -I and recorded by candump, frame for frame.  Skips
# (77) only when qemu cannot be installed.
#
# Usage: tests/t_vm_can.sh BUILD_DIR     (cwd = repository root)
# Environment: VM_CACHE (default tests/vm/cache); VM_FILES, passed on to
# tests/vm/run.sh after this test's own files (a scenario for the guest:
# VM_FILES=my.sh:/etc/vm/can-scenario.sh).  tests/vm/can-scenario.sh, once
# there is one, goes in by itself.
set -u

BUILD=${1:-build}
CACHE=${VM_CACHE:-tests/vm/cache}

# 77: qemu cannot be installed, the one reason to skip
tests/vm/prepare.sh "$CACHE" || {
	rc=$?
	echo "t_vm_can: $([ $rc = 77 ] && echo "skip: qemu-system-x86 cannot be installed" || echo "FAIL: tests/vm/prepare.sh exited $rc")"
	exit $((rc == 77 ? 77 : 1))
}
# Only canlog: it has no GPIO backend to get wrong in a tree built with
# other options (t_vm_gpio2's); run.sh checks powerd and powerctl are there.
make --no-print-directory -s -j2 O="$BUILD" "$BUILD/canlog" || {
	echo "t_vm_can: FAIL: make O=$BUILD $BUILD/canlog"
	exit 1
}

# The guest has no canlog (nor the fixtures' parsers): the host rewrites.
D=$BUILD/vm-can
rm -rf "$D"
mkdir -p "$D"
files=
for f in tests/fixtures/can/*; do
	case "$f" in
	*.log) csv= ;;
	*.csv) csv=--csv ;;
	*) continue ;;
	esac
	out=$D/$(basename "$f").regen
	"$BUILD/canlog" "$f" ${csv:+"$csv"} --count --regen="$out" --iface=vcan0 >/dev/null 2>"$out.err" || {
		echo "t_vm_can: FAIL: canlog $f $csv --regen: $(tail -n 3 "$out.err")"
		exit 1
	}
	echo "t_vm_can: $f: $(grep -c '^(' "$out") frames in $out"
	files="$files $out:/etc/vm/can/$(basename "$out")"
done
# For the powerd scenario (tests/vm/can-scenario.sh): per capture the file
# the guest plays (a candump log as it is, the CSV as --regen rewrote it),
# what canlog decodes from that very file (line protocol without the times,
# which are the guest's then) and canlog's counts: frames, records,
# bad_crc, bad_length, decoded.
summary_count() { # WHAT SUMMARY_FILE
	sed -n "s/.* \([0-9]*\) $1[,:].*/\1/p" "$2"
}
for f in tests/fixtures/can/*; do
	case "$f" in
	*.log) play=$f ;;
	*.csv)
		# with --err: the failing records' frames too, for the counts
		play=$D/$(basename "$f").err.regen
		"$BUILD/canlog" "$f" --csv --err --count --regen="$play" --iface=vcan0 >/dev/null \
			2>"$play.err" || {
			echo "t_vm_can: FAIL: canlog $f --csv --err --regen: $(tail -n 3 "$play.err")"
			exit 1
		}
		;;
	*) continue ;;
	esac
	n=$(basename "$f")
	"$BUILD/canlog" "$play" --decode=share/ecoflow.json --lp 2>"$D/$n.sum" |
		sed 's/ [0-9]*$//' >"$D/$n.ref" || {
		echo "t_vm_can: FAIL: canlog $play --lp: $(tail -n 3 "$D/$n.sum")"
		exit 1
	}
	echo "$(summary_count frames "$D/$n.sum") $(summary_count records "$D/$n.sum")" \
		"$(summary_count bad_crc "$D/$n.sum") $(summary_count bad_length "$D/$n.sum")" \
		"$(wc -l <"$D/$n.ref")" >"$D/$n.counts"
	read -r a b c d e <"$D/$n.counts"
	[ -n "$e" ] || {
		echo "t_vm_can: FAIL: cannot read canlog's summary: $(cat "$D/$n.sum")"
		exit 1
	}
	echo "t_vm_can: $n: canlog finds $a frames, $b records ($c bad_crc, $d bad_length), $e decoded"
	files="$files $play:/etc/vm/can/$n.play $D/$n.ref:/etc/vm/can/$n.ref $D/$n.counts:/etc/vm/can/$n.counts"
done
# A user event to transmit: six frames of the check vector's record, with
# gaps from 1 ms to 300 ms, as candump -l would have recorded them.  The
# first gap is 200 ms: for some 30 ms after the first frame of a burst the
# TCG guest is busy (canplayer's frames come 10-12 ms late there too, and
# none are on a real machine), which would say nothing about powerd.
awk 'BEGIN { split("0 200000 205000 306000 307000 607000", g, " ") }
	NR <= 6 { printf "(1744106964.%06d) vcan2 %s\n", g[NR], $3 }' \
	tests/fixtures/can/single-message-3C.log >"$D/event.log"
files="$files $D/event.log:/etc/vm/can/event.log share/ecoflow.json:/etc/vm/ecoflow.json"
[ -f tests/vm/can-scenario.sh ] && files="$files tests/vm/can-scenario.sh:/etc/vm/can-scenario.sh"

GUEST_INIT=tests/vm/guest-can.sh VM_EXTRA_BINS="candump canplayer cangen cansend" \
	VM_FILES="$files ${VM_FILES:-}" tests/vm/run.sh "$BUILD" "$CACHE" || {
	echo "t_vm_can: FAIL: guest checks failed (log: $BUILD/vm/console.log)"
	exit 1
}
