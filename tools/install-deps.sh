#!/bin/sh
# Install the Debian / Raspberry Pi OS packages powerd needs and is missing.
#   tools/install-deps.sh [build|test|bench|fuzz|cross]   (default: build)
# Checks each package with dpkg first, so a machine that has everything is
# left alone and needs no network.
set -eu

BUILD="gcc make pkg-config libgpiod-dev liburing-dev libmicrohttpd-dev libcjson-dev
       libcurl4-openssl-dev libinih-dev libsystemd-dev libmosquitto-dev zlib1g-dev
       libsocketcan-dev"
# make cross: Debian's cross compilers for the Pi, qemu-user to run what they build.
CROSS="$BUILD gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user-static file"
TEST="$CROSS clang clang-format prometheus valgrind curl python3 qemu-system-x86 busybox-static
      cpio kmod xz-utils iproute2 gpiod device-tree-compiler influxdb victoria-metrics mosquitto
      mosquitto-clients python3-botocore python3-yaml strace openssl libclang-rt-14-dev can-utils
      libmodbus-dev man-db groff-base chromium python3-websocket build-essential dpkg-dev debhelper
      lintian dt-schema"
BENCH="$BUILD valgrind python3 time victoria-metrics curl jq mosquitto mosquitto-clients can-utils
       libmodbus-dev mbpoll"
FUZZ="$BUILD clang libclang-rt-14-dev"

case "${1:-build}" in
build) want=$BUILD ;;
test) want=$TEST ;;
bench) want=$BENCH ;;
fuzz) want=$FUZZ ;;
cross) want=$CROSS ;;
*) echo "usage: $0 [build|test|bench|fuzz|cross]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "powerd: these packages are missing:$missing" >&2
	echo "powerd: run as root, or install sudo, or install them yourself: apt-get install$missing" >&2
	exit 1
fi
echo "powerd: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
