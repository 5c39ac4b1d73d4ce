#!/bin/bash
# Real-kernel test: Debian's kernel under QEMU with gpio-sim; the release
# powerd inside the guest counts flashes driven on a simulated line (see
# tests/vm/guest-init.sh for the scenario).  Skips (77) only when qemu
# cannot be installed.
#
# Usage: tests/t_vm_gpio.sh BUILD_DIR     (cwd = repository root)
# Environment: VM_CACHE (default tests/vm/cache).
set -u

BUILD=${1:-build}
CACHE=${VM_CACHE:-tests/vm/cache}

tests/vm/prepare.sh "$CACHE"
rc=$?
if [ "$rc" = 77 ]; then
	echo "t_vm_gpio: skip: qemu-system-x86 cannot be installed"
	exit 77
fi
if [ "$rc" != 0 ]; then
	echo "t_vm_gpio: FAIL: tests/vm/prepare.sh exited $rc"
	exit 1
fi
tests/vm/run.sh "$BUILD" "$CACHE" || {
	echo "t_vm_gpio: FAIL: guest checks failed (log: $BUILD/vm/console.log)"
	exit 1
}
