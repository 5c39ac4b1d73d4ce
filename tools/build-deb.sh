#!/bin/sh
# Build powerd's Debian package from a copy of the tree, so that nothing is
# written outside OUTDIR: the files git knows or would add (or, outside a
# git checkout, the tree less build/) are copied to OUTDIR/src and
# dpkg-buildpackage -us -uc -b runs there; OUTDIR gets
# powerd_VERSION-1_ARCH.deb, .buildinfo and .changes.
#   tools/build-deb.sh OUTDIR [dpkg-buildpackage options, e.g. -a arm64]
# Needs debhelper, dpkg-dev and the build dependencies (debian/control;
# tools/install-deps.sh test installs them).
set -eu
[ $# -ge 1 ] || {
	echo "usage: $0 OUTDIR [dpkg-buildpackage options]" >&2
	exit 2
}
out=$1
shift
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
		tar --null -T - -cf - | tar -xf - -C "$out/src"
else
	tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$out/src"
fi
# A make that called this (make deb) must not hand its variables to the
# package's makes: debian/rules sets the install's.
unset MAKEFLAGS MFLAGS MAKELEVEL
cd "$out/src"
dpkg-buildpackage -us -uc -b "$@"
