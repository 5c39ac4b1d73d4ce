#!/bin/sh
# Unpack Debian 13 (trixie)'s libgpiod 2.x into a private prefix, to build and
# test powerd's libgpiod 2 backend on a Debian 12 machine:
#   tools/fetch-libgpiod2.sh DIR    ->  DIR/usr/{include,lib/x86_64-linux-gnu}
# The system's apt sources are not touched (a private sources list and state).
# Its C library needs glibc <= 2.33 symbols only, so it runs on bookworm.
set -eu
D=${1:?usage: $0 DIR}
mkdir -p "$D/apt/lists/partial" "$D/debs"
D=$(cd "$D" && pwd)
if [ -f "$D/usr/include/gpiod.h" ] && ls "$D"/usr/lib/*/libgpiod.so.3* >/dev/null 2>&1; then
	exit 0
fi
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' >"$D/apt/trixie.list"
APT="-o Dir::Etc::SourceList=$D/apt/trixie.list -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists=$D/apt/lists -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
     -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get $APT update -qq
# shellcheck disable=SC2086
(cd "$D/debs" && apt-get $APT download libgpiod-dev libgpiod3 >/dev/null)
for f in "$D"/debs/*.deb; do dpkg -x "$f" "$D"; done
echo "libgpiod 2.x unpacked in $D: $(ls "$D"/usr/lib/*/libgpiod.so.3.*)"
