#!/bin/bash
# Prepare what the real-kernel tests boot, once, into a cache:
#   - Debian's own amd64 kernel (linux-image-6.1.0-NN-amd64), unpacked, never
#     installed: only vmlinuz and the modules the tests need are kept, and
#     the .deb itself, so that a new module set needs no download;
#   - gpio-sim.ko, which Debian does not build (CONFIG_GPIO_SIM is off), built
#     out of tree from linux-source-6.1 against linux-headers-6.1.0-NN-amd64;
#   - the module load order for GUEST_MODULES (from depmod/modprobe).
# The cache records the module set it was made for: when GUEST_MODULES
# changes it is made again, from the kept .deb and gpio-sim.ko (a cache made
# before they were kept downloads the kernel image again, not the source).
# A second run with nothing new to do takes about a second.
#
# Usage: tests/vm/prepare.sh [CACHE_DIR]     (default tests/vm/cache)
# Exit: 0 ready, 77 qemu cannot be installed (the caller skips), 1 error.
set -euo pipefail

CACHE=${1:-tests/vm/cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
# The VM tests run side by side (tests/run.sh): one prepares, the others
# wait for it and then find the cache ready.
exec 9>"$CACHE/.lock"
flock 9
export DEBIAN_FRONTEND=noninteractive
# The one guest module set, for every guest script (the GPIO one and the CAN
# one load them all: cheaper than a cache per set); what they depend on
# (can-dev, can) comes in through depmod.
GUEST_MODULES="configfs gpio-sim vcan can-raw"

say() { echo "vm-prepare: $*"; }
die() {
	echo "vm-prepare: error: $*" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "vm-prepare: need root (or sudo) for: $*" >&2
		return 1
	fi
}

# apt-get update at most once per run, and only when something is missing.
UPDATED=0
apt_update() {
	[ "$UPDATED" = 1 ] && return 0
	say "apt-get update"
	as_root apt-get update -qq
	UPDATED=1
}

missing_pkgs() {
	local p out=""
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || out="$out $p"
	done
	echo "$out"
}

apt_install() {
	local missing
	missing=$(missing_pkgs "$@")
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	apt_update || return 1
	# shellcheck disable=SC2086 # a list of names
	as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# -------------------------------------------------------------- host tools
# qemu decides between "skip" and "run": without it nothing here can work.
if ! apt_install qemu-system-x86; then
	echo "vm-prepare: qemu-system-x86 cannot be installed" >&2
	exit 77
fi
# gcc and libc6-dev also build the guest's static vmpulse (run.sh);
# can-utils are the CAN guest's player and recorder (VM_EXTRA_BINS).
apt_install busybox-static cpio kmod xz-utils gcc make libc6-dev can-utils ||
	die "cannot install the host tools"

# -------------------------------------------------------------- which kernel
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
KPKG=$(kernel_pkg)
if [ -z "$KPKG" ]; then
	apt_update
	KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "apt knows no linux-image-amd64"
KVER=${KPKG#linux-image-} # e.g. 6.1.0-56-amd64
K=$CACHE/$KVER

cached_modules() { cat "$K/modules" 2>/dev/null || echo "(not recorded)"; }
if [ -f "$K/READY" ] && [ -f "$K/vmlinuz" ] && [ -f "$K/load-order" ] &&
	[ "$(cached_modules)" = "$GUEST_MODULES" ]; then
	echo "$KVER" >"$CACHE/current"
	say "cached: kernel $KVER, gpio-sim.ko, modules:$(tr '\n' ' ' <"$K/load-order" | sed 's|/lib/modules/[^ ]*/||g')"
	exit 0
fi

if [ -f "$K/READY" ]; then
	say "kernel $KVER cached for modules '$(cached_modules)', wanted '$GUEST_MODULES': preparing again"
else
	say "preparing kernel $KVER in $K"
fi

TMP=$(mktemp -d "$CACHE/tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP" # apt-get download drops privileges to _apt when it can

# Download a package into $TMP; a stale package list is refreshed once.
download() {
	(cd "$TMP" && apt-get download -q "$@" >/dev/null 2>&1) && return 0
	apt_update
	(cd "$TMP" && apt-get download -q "$@" >/dev/null)
}

# What an earlier run kept is linked, not moved, into $TMP: a run that
# fails half way leaves the cache as it found it.
keep() { ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"; }

# -------------------------------------------------------------- kernel image
KDEB=$TMP/kernel.deb
if [ -f "$K/kernel.deb" ] && [ "$(dpkg-deb -f "$K/kernel.deb" Package 2>/dev/null)" = "$KPKG" ]; then
	say "reusing the cached $KPKG .deb"
	keep "$K/kernel.deb" "$KDEB"
else
	say "downloading $KPKG"
	download "$KPKG" || die "apt-get download $KPKG failed"
	mv "$(find "$TMP" -maxdepth 1 -name "${KPKG}_*.deb" | head -1)" "$KDEB"
fi
KPKGVER=$(dpkg-deb -f "$KDEB" Version) # e.g. 6.1.192-2
say "unpacking $KPKG $KPKGVER"
dpkg -x "$KDEB" "$TMP/kroot"
[ -f "$TMP/kroot/boot/vmlinuz-$KVER" ] || die "no vmlinuz in $KPKG"

# -------------------------------------------------------------- gpio-sim.ko
GS=$TMP/gpio-sim
mkdir -p "$GS"
OLDGS=$K/lib/modules/$KVER/extra/gpio-sim.ko
if [ -f "$OLDGS" ] && modinfo -F vermagic "$OLDGS" 2>/dev/null | grep -q "^$KVER "; then
	# Built from this kernel's source against its headers: the same again.
	say "reusing the cached gpio-sim.ko"
	keep "$OLDGS" "$GS/gpio-sim.ko"
else
	apt_install "linux-headers-$KVER" || die "cannot install linux-headers-$KVER"
	[ -d "/lib/modules/$KVER/build" ] || die "/lib/modules/$KVER/build missing"
	say "downloading linux-source-6.1 $KPKGVER (for gpio-sim.c)"
	download "linux-source-6.1=$KPKGVER" || download linux-source-6.1 ||
		die "apt-get download linux-source-6.1 failed"
	SRCDEB=$(find "$TMP" -maxdepth 1 -name "linux-source-6.1_*_all.deb" | head -1)
	say "extracting gpio-sim.c, gpiolib.h, irq_sim.c"
	dpkg-deb --fsys-tarfile "$SRCDEB" |
		tar -xO ./usr/src/linux-source-6.1.tar.xz |
		xz -dc |
		tar -x -C "$TMP" linux-source-6.1/drivers/gpio/gpio-sim.c \
			linux-source-6.1/drivers/gpio/gpiolib.h linux-source-6.1/kernel/irq/irq_sim.c
	rm -f "$SRCDEB"
	cp "$TMP/linux-source-6.1/drivers/gpio/gpio-sim.c" "$GS/gpio-sim-core.c"
	cp "$TMP/linux-source-6.1/drivers/gpio/gpiolib.h" "$TMP/linux-source-6.1/kernel/irq/irq_sim.c" "$GS/"
	# Debian also leaves CONFIG_IRQ_SIM off, so irq_sim.c is linked into the
	# module.  irq_to_desc() is not exported to modules; generic_handle_irq() is
	# and ends in the same handle_simple_irq() that irq_sim's map callback set.
	sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$GS/irq_sim.c"
	grep -q 'generic_handle_irq(irqnum)' "$GS/irq_sim.c" || die "irq_sim.c patch did not apply"
	printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-core.o irq_sim.o\n' >"$GS/Kbuild"
	say "building gpio-sim.ko against linux-headers-$KVER"
	make -s -C "/lib/modules/$KVER/build" M="$GS" modules >"$TMP/kbuild.log" 2>&1 ||
		{
			cat "$TMP/kbuild.log" >&2
			die "gpio-sim.ko build failed"
		}
	modinfo -F vermagic "$GS/gpio-sim.ko" | grep -q "^$KVER " || die "gpio-sim.ko has the wrong vermagic"
fi

# -------------------------------------------------------------- load order
KR=$TMP/kroot
mkdir -p "$KR/lib/modules/$KVER/extra"
cp "$GS/gpio-sim.ko" "$KR/lib/modules/$KVER/extra/"
depmod -b "$KR" "$KVER"
: >"$TMP/load-order"
for m in $GUEST_MODULES; do
	modprobe -d "$KR" -S "$KVER" --show-depends "$m" |
		awk -v root="$KR" '$1 == "insmod" { sub("^" root, "", $2); print $2 }' |
		while read -r f; do
			grep -qxF "$f" "$TMP/load-order" || echo "$f" >>"$TMP/load-order"
		done
done
grep -q '/gpio-sim.ko$' "$TMP/load-order" || die "gpio-sim missing from the load order"

# -------------------------------------------------------------- publish
rm -rf "$K"
mkdir -p "$K"
cp "$KR/boot/vmlinuz-$KVER" "$K/vmlinuz"
cp "$KR/boot/config-$KVER" "$K/config"
while read -r f; do
	install -D -m644 "$KR$f" "$K$f"
done <"$TMP/load-order"
cp "$TMP/load-order" "$K/load-order"
mv "$KDEB" "$K/kernel.deb"
echo "$GUEST_MODULES" >"$K/modules"
echo "$KPKG $KPKGVER" >"$K/READY"
echo "$KVER" >"$CACHE/current"
# Older kernels' trees are no longer needed.
for d in "$CACHE"/*/; do
	d=${d%/}
	case "$d" in "$K" | "$TMP") ;; *) [ -f "$d/READY" ] && rm -rf "$d" ;; esac
done
say "ready: kernel $KVER ($KPKGVER), modules:$(tr '\n' ' ' <"$K/load-order")"
