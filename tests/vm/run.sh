#!/bin/bash
# Boot Debian's kernel (prepared by tests/vm/prepare.sh) under QEMU (TCG)
# with an initramfs holding busybox, the prepared modules, BUILD_DIR's
# powerd and powerctl, vmpulse (tests/vm/vmpulse.c, built here, static) and
# tests/vm/guest-lib.sh (as /etc/vm/guest-lib.sh), and run
# tests/vm/guest-init.sh (or GUEST_INIT) as its /init.
# Passes when the guest reports "VMTEST DONE: fails=0" and no failure.
#
# Usage: tests/vm/run.sh BUILD_DIR [CACHE_DIR]
# Environment: QEMU_TIMEOUT (s, default 480: on a busy host the boot alone
# can take a minute), QEMU_SMP (vCPUs, default 1), GUEST_INIT (another /init:
# tests/vm/guest-can.sh, or experiments), VM_EXTRA_BINS (more host programs
# for the guest's /bin, by name, found on the PATH, with their shared
# libraries: e.g. "candump canplayer"), VM_FILES (more files,
# "HOST_PATH:/GUEST_PATH ...", the mode kept; no blanks in the paths).
# Work files and the console log stay in BUILD_DIR/vm/.
set -euo pipefail

BUILD=${1:?usage: run.sh BUILD_DIR [CACHE_DIR]}
CACHE=${2:-tests/vm/cache}
HERE=$(cd "$(dirname "$0")" && pwd)
QEMU_TIMEOUT=${QEMU_TIMEOUT:-480}

say() { echo "vm-run: $*"; }
die() {
	echo "vm-run: error: $*" >&2
	exit 1
}

[ -f "$CACHE/current" ] || die "$CACHE is not prepared (run tests/vm/prepare.sh $CACHE)"
KVER=$(cat "$CACHE/current")
K=$(cd "$CACHE/$KVER" && pwd)
[ -f "$K/READY" ] || die "$K is incomplete (run tests/vm/prepare.sh $CACHE)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing"
for b in powerd powerctl; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b missing (build first)"
done
INIT=${GUEST_INIT:-$HERE/guest-init.sh}
[ -f "$INIT" ] || die "GUEST_INIT $INIT missing"

W=$BUILD/vm
R=$W/initrd
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,run,etc/vm,var/lib,lib64}
W=$(cd "$W" && pwd)
R=$W/initrd

# Binaries and, through ldd, every shared library they load.
cp /bin/busybox "$R/bin/busybox"
add_bin() { # PATH
	local l
	cp "$1" "$R/bin/"
	for l in $(ldd "$1" | awk '/=>/ && $3 ~ /^\// { print $3 } /^[ \t]*\// { print $1 }'); do
		[ -e "$R$l" ] || install -D -m755 "$l" "$R$l"
	done
}
add_bin "$BUILD/powerd"
add_bin "$BUILD/powerctl"
# The guest's driver and referee; static, so it needs nothing from the host.
gcc -static -O2 -std=gnu11 -Wall -Wextra -Werror -o "$W/vmpulse" "$HERE/vmpulse.c" ||
	die "cannot build vmpulse (gcc -static needs libc6-dev)"
cp "$W/vmpulse" "$R/bin/vmpulse"
# What a guest script asks for beyond that: names, so the host's own build
# (and its libraries) is what the guest runs.
for b in ${VM_EXTRA_BINS:-}; do
	p=$(command -v "$b") || p=
	[ -f "$p" ] || die "$b (VM_EXTRA_BINS) not found on the PATH"
	add_bin "$p"
done
for spec in ${VM_FILES:-}; do
	case "$spec" in
	?*:/?*) ;;
	*) die "VM_FILES entry '$spec' is not HOST_PATH:/GUEST_PATH" ;;
	esac
	src=${spec%:*}
	[ -f "$src" ] || die "$src (VM_FILES) missing"
	install -D -m "$(stat -c %a "$src")" "$src" "$R${spec##*:}"
done
[ -e "$R/lib64/ld-linux-x86-64.so.2" ] ||
	install -D /lib64/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"

while read -r f; do
	install -D -m644 "$K$f" "$R$f"
done <"$K/load-order"
cp "$K/load-order" "$R/etc/vm/load-order"
install -m644 "$HERE/guest-lib.sh" "$R/etc/vm/guest-lib.sh"
install -m755 "$INIT" "$R/init"

(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$W/initrd.cpio.gz"
say "kernel $KVER, initramfs $(du -h "$W/initrd.cpio.gz" | cut -f1), booting (TCG, timeout ${QEMU_TIMEOUT}s)"

LOG=$W/console.log
t0=$(date +%s.%N)
rc=0
# One vCPU: the driver's writes and the kernel's events then match one to
# one (the IRQ thread reads each edge's level before the next write; see
# guest-init.sh).  Pulse widths are not relied on: a busy host stretches
# them at random, and the guest judges from the kernel's timestamps.
# timeout: after some failures qemu stays alive, paused, forever.
timeout -k 5 "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512 -smp "${QEMU_SMP:-1}" -nographic \
	-no-reboot -nic none -kernel "$K/vmlinuz" -initrd "$W/initrd.cpio.gz" \
	-append 'console=ttyS0 panic=-1 quiet' </dev/null >"$LOG" 2>&1 || rc=$?
t1=$(date +%s.%N)
tr -d '\r' <"$LOG" >"$LOG.txt"
mv "$LOG.txt" "$LOG"
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

grep -a '^VMTEST' "$LOG" || true
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	say "qemu killed after ${QEMU_TIMEOUT}s"
fi
if grep -aq '^VMTEST DONE: fails=0 ' "$LOG" && ! grep -aq '^VMTEST FAIL' "$LOG"; then
	say "PASS: $(grep -ac '^VMTEST PASS' "$LOG") checks in ${wall}s (qemu rc=$rc)"
	exit 0
fi
echo "vm-run: guest console from /init on ($LOG):"
# Everything after the kernel handed over to /init (our first VMTEST line);
# the kernel's own messages before it only when /init never ran.
if grep -aq '^VMTEST' "$LOG"; then
	awk 'f || /^VMTEST/ { f = 1; print }' "$LOG" | grep -av '^VMTEST' | tail -n 200
else
	tail -n 60 "$LOG"
fi
echo "vm-run: FAIL (qemu rc=$rc, ${wall}s):"
grep -a '^VMTEST FAIL' "$LOG" || echo "vm-run: the guest never reported VMTEST DONE"
exit 1
