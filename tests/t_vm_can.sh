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

tests/vm/prepare.sh "$CACHE"
rc=$?
if [ "$rc" = 77 ]; then
	echo "t_vm_can: skip: qemu-system-x86 cannot be installed"
	exit 77
fi
if [ "$rc" != 0 ]; then
	echo "t_vm_can: FAIL: tests/vm/prepare.sh exited $rc"
	exit 1
fi
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
[ -f tests/vm/can-scenario.sh ] && files="$files tests/vm/can-scenario.sh:/etc/vm/can-scenario.sh"

GUEST_INIT=tests/vm/guest-can.sh VM_EXTRA_BINS="candump canplayer cangen cansend" \
	VM_FILES="$files ${VM_FILES:-}" tests/vm/run.sh "$BUILD" "$CACHE" || {
	echo "t_vm_can: FAIL: guest checks failed (log: $BUILD/vm/console.log)"
	exit 1
}
