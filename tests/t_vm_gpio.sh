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

# 77: qemu cannot be installed, the one reason to skip
tests/vm/prepare.sh "$CACHE" || {
	rc=$?
	echo "t_vm_gpio: $([ $rc = 77 ] && echo "skip: qemu-system-x86 cannot be installed" || echo "FAIL: tests/vm/prepare.sh exited $rc")"
	exit $((rc == 77 ? 77 : 1))
}
tests/vm/run.sh "$BUILD" "$CACHE" || {
	echo "t_vm_gpio: FAIL: guest checks failed (log: $BUILD/vm/console.log)"
	exit 1
}
