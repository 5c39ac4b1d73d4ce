#!/bin/bash
# The powerd-pulse device-tree overlay builds without warnings and applies to
# a real Raspberry Pi 4 base tree: Debian's arm64 kernel ships the upstream
# bcm2711-rpi-4-b.dtb.  That dtb has no __symbols__, so the `gpio` label the
# overlay targets (Raspberry Pi OS's name) is added with fdtput first.
# fdtoverlay cannot apply __overrides__ parameters (only the Pi firmware's
# loader does), so the parameters are checked in the .dtbo and then applied
# the way the loader would (phandle -> node, "property:offset" -> cell).
#
#   tests/t_dt_overlay.sh BUILD_DIR      (overlay built into BUILD_DIR/dt/)
# Exit: 0 pass, 77 Debian's arm64 kernel package cannot be downloaded, 1 fail.
# The base dtb is cached in tests/vm/cache/dt-arm64/ (about 50 KB; the 60 MB
# kernel package is not kept), so only the first run needs the network.
set -euo pipefail

B=${1:?usage: $0 BUILD_DIR}
mkdir -p "$B/dt"
OUT=$(cd "$B/dt" && pwd)
CACHE=$PWD/tests/vm/cache/dt-arm64 # absolute: apt prefixes relative Dir:: paths with /
BASE_NAME=bcm2711-rpi-4-b.dtb

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
skip() {
	echo "SKIP: $*"
	exit 77
}
say() { echo "t_dt_overlay: $*"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "need root (or sudo) for: $*" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- tools
if ! command -v dtc >/dev/null || ! command -v fdtoverlay >/dev/null ||
	! command -v fdtput >/dev/null; then
	say "installing device-tree-compiler"
	export DEBIAN_FRONTEND=noninteractive
	{ as_root apt-get install -y -qq --no-install-recommends device-tree-compiler >/dev/null ||
		{ as_root apt-get update -qq && as_root apt-get install -y -qq \
			--no-install-recommends device-tree-compiler >/dev/null; }; } ||
		fail "cannot install device-tree-compiler (dtc, fdtoverlay, fdtput, fdtget)"
fi

# ---------------------------------------------------------------- build
make -s -C kmod-dt O="$OUT" >/dev/null || fail "make -C kmod-dt failed (dtc error or warning)"
DTBO=$OUT/powerd-pulse.dtbo
[ -s "$DTBO" ] || fail "no $DTBO"

# ---------------------------------------------------------------- base dtb
# Only the dtb is taken from the package.  apt runs with a private sources
# list and state (architecture arm64), so the system's apt is not touched.
fetch_base() {
	local tmp apt kpkg deb
	tmp=$(mktemp -d "$CACHE.tmp.XXXXXX")
	TMPD=$tmp
	apt=$tmp/apt
	mkdir -p "$apt/lists/partial" "$tmp/deb"
	{
		echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main"
		echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main"
	} >"$apt/sources.list"
	: >"$apt/status"
	local -a o=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
		-o APT::Architecture=arm64 -o APT::Architectures::=arm64
		-o Acquire::Languages=none -o APT::Sandbox::User=root)
	say "resolving Debian's arm64 kernel package (private apt state)"
	apt-get "${o[@]}" update -qq >"$tmp/apt.log" 2>&1 || {
		cat "$tmp/apt.log" >&2
		return 1
	}
	kpkg=$(apt-cache "${o[@]}" depends linux-image-arm64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || {
		echo "apt knows no linux-image-arm64" >&2
		return 1
	}
	say "downloading $kpkg (arm64, about 60 MB, once)"
	(cd "$tmp/deb" && apt-get "${o[@]}" download -q "$kpkg" >"$tmp/apt.log" 2>&1) || {
		cat "$tmp/apt.log" >&2
		return 1
	}
	deb=$(find "$tmp/deb" -name "${kpkg}_*.deb" | head -1)
	[ -n "$deb" ] || return 1
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$tmp" --wildcards "./usr/lib/linux-image-*/broadcom/$BASE_NAME" ||
		fail "no broadcom/$BASE_NAME in $kpkg"
	mkdir -p "$CACHE"
	cp "$tmp"/usr/lib/linux-image-*/broadcom/"$BASE_NAME" "$CACHE/$BASE_NAME.new"
	echo "$kpkg $(dpkg-deb -f "$deb" Version)" >"$CACHE/SOURCE"
	mv "$CACHE/$BASE_NAME.new" "$CACHE/$BASE_NAME"
}

TMPD=""
trap '[ -z "$TMPD" ] || rm -rf "$TMPD"' EXIT
mkdir -p "$(dirname "$CACHE")"
if [ ! -s "$CACHE/$BASE_NAME" ]; then
	fetch_base || skip "cannot download Debian's arm64 kernel package (for $BASE_NAME)"
fi
say "base: $BASE_NAME from $(cat "$CACHE/SOURCE" 2>/dev/null || echo '?')"

W=$OUT/test
rm -rf "$W"
mkdir -p "$W"
BASE=$W/base.dtb
cp "$CACHE/$BASE_NAME" "$BASE"

# ---------------------------------------------------------------- helpers
# get FILE NODE PROP [fdtget type]: the value, or fail
get() {
	fdtget ${4:+-t "$4"} "$1" "$2" "$3" 2>/dev/null || fail "$1: no $2:$3"
}

# node_by_phandle FILE PHANDLE [NODE]: the path of the node with that phandle
node_by_phandle() {
	local f=$1 ph=$2 n=${3:-/} c p
	p=$(fdtget -t u -d none "$f" "$n" phandle 2>/dev/null || echo none)
	if [ "$p" = "$ph" ]; then
		echo "$n"
		return 0
	fi
	for c in $(fdtget -l "$f" "$n"); do
		node_by_phandle "$f" "$ph" "${n%/}/$c" && return 0
	done
	return 1
}

# override FILE NAME: "PHANDLE PROPERTY OFFSET" of a one-target __overrides__
# entry (<&label>, "property:offset"), decoded from its raw bytes.
override() {
	local bytes
	bytes=$(get "$1" /__overrides__ "$2" bx)
	python3 - "$bytes" <<'EOF'
import sys
b = bytes(int(x, 16) for x in sys.argv[1].split())
if len(b) < 6 or b[-1] != 0 or b.count(0, 4) != 1:
    sys.exit("not one <&phandle>, \"string\" target: %r" % b)
ph = int.from_bytes(b[:4], "big")
prop, _, off = b[4:-1].decode().partition(":")
print(ph, prop, off or "-")
EOF
}

# line_name FILE GPIONODE N: the Nth gpio-line-names entry
line_name() {
	get "$1" "$2" gpio-line-names | tr ' ' '\n' | sed -n "$(($3 + 1))p"
}

# ---------------------------------------------------------------- symbols
# The BCM2711 pin controller, found by its compatible (not a hard-coded path).
GPIO=""
for c in $(fdtget -l "$BASE" /soc); do
	if fdtget "$BASE" "/soc/$c" compatible 2>/dev/null | grep -qw brcm,bcm2711-gpio; then
		GPIO=/soc/$c
		break
	fi
done
[ -n "$GPIO" ] || fail "no brcm,bcm2711-gpio node under /soc in $BASE_NAME"
if ! fdtget "$BASE" "$GPIO" phandle >/dev/null 2>&1; then
	maxph=$(dtc -q -I dtb -O dts "$BASE" | sed -n 's/.*phandle = <\(0x[0-9a-f]*\)>;.*/\1/p' |
		sort -u | while read -r h; do echo $((h)); done | sort -n | tail -1)
	fdtput -t u "$BASE" "$GPIO" phandle $((${maxph:-0} + 1))
fi
fdtget "$BASE" /__symbols__ gpio >/dev/null 2>&1 && fail "base already has __symbols__/gpio: recipe changed?"
fdtput -c "$BASE" /__symbols__ 2>/dev/null || true
fdtput -t s "$BASE" /__symbols__ gpio "$GPIO"
say "base prepared: __symbols__/gpio = $GPIO, phandle $(get "$BASE" "$GPIO" phandle u)"
nchild=$(fdtget -l "$BASE" "$GPIO" | wc -l)

# ---------------------------------------------------------------- apply: defaults
# check_merged MERGED PIN PULL: the hog is in the merged tree, as configured
check_merged() {
	local m=$1 pin=$2 pull=$3 pins ph
	pins=$GPIO/powerd_pulse_pins
	fdtget "$m" "$pins" brcm,pins >/dev/null 2>&1 || fail "$m: no $pins node"
	[ "$(get "$m" "$pins" brcm,pins u)" = "$pin" ] ||
		fail "$m: brcm,pins = $(get "$m" "$pins" brcm,pins u), want $pin"
	[ "$(get "$m" "$pins" brcm,function u)" = 0 ] ||
		fail "$m: brcm,function = $(get "$m" "$pins" brcm,function u), want 0 (input)"
	[ "$(get "$m" "$pins" brcm,pull u)" = "$pull" ] ||
		fail "$m: brcm,pull = $(get "$m" "$pins" brcm,pull u), want $pull"
	# The hog: the controller's own default state points at the new node.
	ph=$(get "$m" "$pins" phandle u)
	[ "$(get "$m" "$GPIO" pinctrl-0 u)" = "$ph" ] ||
		fail "$m: $GPIO pinctrl-0 = $(get "$m" "$GPIO" pinctrl-0 u), want <$ph> (powerd_pulse_pins)"
	[ "$(get "$m" "$GPIO" pinctrl-names s)" = default ] ||
		fail "$m: $GPIO pinctrl-names is not \"default\""
	[ "$(fdtget -l "$m" "$GPIO" | wc -l)" = $((nchild + 1)) ] ||
		fail "$m: $GPIO should have its $nchild pin groups plus powerd_pulse_pins"
	# powerd's `line = GPIO<pin>` on Raspberry Pi OS: the base names the line so.
	[ "$(line_name "$m" "$GPIO" "$pin")" = "GPIO$pin" ] ||
		fail "$m: gpio-line-names[$pin] = $(line_name "$m" "$GPIO" "$pin"), want GPIO$pin"
}

M=$W/merged.dtb
fdtoverlay -i "$BASE" -o "$M" "$DTBO" || fail "fdtoverlay could not apply $DTBO"
check_merged "$M" 17 2
say "applied with defaults: $GPIO/powerd_pulse_pins brcm,pins=<17> brcm,function=<0> brcm,pull=<2>, hogged"

# ---------------------------------------------------------------- parameters
OVPINS=/fragment@0/__overlay__/powerd_pulse_pins
ovph=$(get "$DTBO" "$OVPINS" phandle u)
for p in gpiopin:brcm,pins pull:brcm,pull; do
	name=${p%%:*} prop=${p#*:}
	read -r ph tprop off < <(override "$DTBO" "$name") || fail "__overrides__/$name: bad encoding"
	[ "$ph" = "$ovph" ] || fail "__overrides__/$name targets phandle $ph, want $ovph ($OVPINS)"
	if [ "$tprop" != "$prop" ] || [ "$off" != 0 ]; then
		fail "__overrides__/$name sets \"$tprop:$off\", want \"$prop:0\""
	fi
	# Without a __local_fixups__ entry the loader would not renumber the
	# phandle when merging, and the parameter would hit some other node.
	[ "$(get "$DTBO" /__local_fixups__/__overrides__ "$name" u)" = 0 ] ||
		fail "__overrides__/$name: phandle not listed in __local_fixups__"
done
say "__overrides__: gpiopin -> $OVPINS brcm,pins:0, pull -> brcm,pull:0"

# set_param DTBO NAME VALUE: what the firmware's loader does for an integer
# parameter: the cell at the byte offset of the target property is replaced.
set_param() {
	local f=$1 ph tprop off node cells
	read -r ph tprop off < <(override "$f" "$2") || fail "__overrides__/$2: bad encoding"
	node=$(node_by_phandle "$f" "$ph") || fail "$2: no node with phandle $ph"
	read -r -a cells <<<"$(get "$f" "$node" "$tprop" u)"
	if [ $((off % 4)) != 0 ] || [ $((off / 4)) -ge ${#cells[@]} ]; then
		fail "$2: offset $off is not a cell of $tprop"
	fi
	cells[off / 4]=$3
	fdtput -t u "$f" "$node" "$tprop" "${cells[@]}"
}

P=$W/powerd-pulse-gpiopin27.dtbo
cp "$DTBO" "$P"
set_param "$P" gpiopin 27
set_param "$P" pull 1
fdtoverlay -i "$BASE" -o "$W/merged27.dtb" "$P" || fail "fdtoverlay: gpiopin=27,pull=1 variant"
check_merged "$W/merged27.dtb" 27 1
say "applied with gpiopin=27,pull=1: brcm,pins=<27> brcm,pull=<1>, line GPIO27"
echo "PASS: powerd-pulse.dtbo applies to $BASE_NAME (GPIO17 pull-up; gpiopin=27 pull=1)"
