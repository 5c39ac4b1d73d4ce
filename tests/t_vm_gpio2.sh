#!/bin/bash
# The real-kernel test again with the libgpiod 2.x backend (daemon/gpio_v2.c):
# Debian 13's libgpiod is unpacked into BUILD_DIR/gpiod2 (tools/fetch-libgpiod2.sh),
# powerd is built against it, and the same guest scenario must give the same
# exact counts.  Skips (77) when trixie's packages cannot be fetched.
set -u
B=${1:-build}
if ! tools/fetch-libgpiod2.sh "$B/gpiod2" >"$B/gpiod2.log" 2>&1; then
	echo "t_vm_gpio2: skip: cannot fetch Debian 13's libgpiod ($(tail -n 1 "$B/gpiod2.log"))"
	exit 77
fi
make --no-print-directory -s O="$B/gpiod2-bin" GPIOD_PREFIX="$B/gpiod2" all || exit 1
ldd "$B/gpiod2-bin/powerd" | grep -q 'libgpiod.so.3 ' || { echo "not linked to libgpiod 2.x"; exit 1; }
nm -C "$B/gpiod2-bin/powerd" | grep -q gpiod_chip_request_lines || { echo "v2 backend not linked"; exit 1; }
VM_CACHE=${VM_CACHE:-tests/vm/cache} exec tests/t_vm_gpio.sh "$B/gpiod2-bin"
