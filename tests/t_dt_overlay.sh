#!/bin/bash
# The kmod-dt overlays (powerd-pulse, powerd-mcp2515-can0, powerd-rs485) build
# without warnings and apply to a real Raspberry Pi 4 base tree: Debian's arm64
# kernel ships the upstream bcm2711-rpi-4-b.dtb.  That dtb has no __symbols__
# and upstream's labels differ from Raspberry Pi OS's (for which the overlays
# are written), so the labels they target are added with fdtput first: gpio,
# spi0 (upstream `spi`), uart1, and a stand-in for Pi OS's spidev0 node.
# fdtoverlay cannot apply __overrides__ parameters (only the Pi firmware's
# loader does), so each parameter is checked in the .dtbo and then applied the
# way the loader would (phandle -> node, "property:offset" -> cell,
# "property?" -> boolean).  The merged trees are validated with dt-validate
# (Debian's dt-schema) against the bindings of Debian's linux-source-6.1: only
# messages the base tree does not have already count.
#
#   tests/t_dt_overlay.sh BUILD_DIR      (overlays built into BUILD_DIR/dt/)
# Exit: 0 pass, 77 a Debian package (arm64 kernel, linux-source-6.1) cannot be
# downloaded, 1 fail.  Cached in tests/vm/cache/: dt-arm64/ the base dtb (about
# 50 KB; the 60 MB kernel package is not kept) and dt-schema-6.1/ the processed
# binding schemas (about 800 KB; the 140 MB source package is not kept), so only
# the first run needs the network.
set -euo pipefail

B=${1:?usage: $0 BUILD_DIR}
mkdir -p "$B/dt"
OUT=$(cd "$B/dt" && pwd)
CACHE=$PWD/tests/vm/cache/dt-arm64 # absolute: apt prefixes relative Dir:: paths with /
SCACHE=$PWD/tests/vm/cache/dt-schema-6.1
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
# need PACKAGE COMMAND...: install the package if a command is missing
need() {
	local pkg=$1 c
	shift
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		say "installing $pkg"
		export DEBIAN_FRONTEND=noninteractive
		{ as_root apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
			{ as_root apt-get update -qq && as_root apt-get install -y -qq \
				--no-install-recommends "$pkg" >/dev/null; }; } ||
			fail "cannot install $pkg ($*)"
		return 0
	done
}
need device-tree-compiler dtc fdtoverlay fdtput fdtget
need dt-schema dt-validate dt-mk-schema

# ---------------------------------------------------------------- build
make -s -C kmod-dt O="$OUT" >/dev/null || fail "make -C kmod-dt failed (dtc error or warning)"
PULSE=$OUT/powerd-pulse.dtbo
CAN=$OUT/powerd-mcp2515-can0.dtbo
RS485=$OUT/powerd-rs485.dtbo
for f in "$PULSE" "$CAN" "$RS485"; do
	[ -s "$f" ] || fail "no $f"
done

# ---------------------------------------------------------------- Debian packages
# apt runs with a private sources list and state (architecture arm64), so the
# system's apt is not touched.  Only the files needed are kept.
TMPD=""
trap '[ -z "$TMPD" ] || rm -rf "$TMPD"' EXIT
APTO=()
apt_private() {
	[ ${#APTO[@]} = 0 ] || return 0
	local apt
	TMPD=$(mktemp -d "${TMPDIR:-/tmp}/t_dt_overlay.XXXXXX")
	apt=$TMPD/apt
	mkdir -p "$apt/lists/partial"
	{
		echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main"
		echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main"
	} >"$apt/sources.list"
	: >"$apt/status"
	APTO=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
		-o APT::Architecture=arm64 -o APT::Architectures::=arm64
		-o Acquire::Languages=none -o APT::Sandbox::User=root)
	say "resolving Debian packages (private apt state, arm64)"
	apt-get "${APTO[@]}" update -qq >"$TMPD/apt.log" 2>&1 || {
		cat "$TMPD/apt.log" >&2
		APTO=()
		return 1
	}
}

# download PACKAGE: the .deb's path on stdout
download() {
	mkdir -p "$TMPD/deb"
	(cd "$TMPD/deb" && apt-get "${APTO[@]}" download -q "$1" >"$TMPD/apt.log" 2>&1) || {
		cat "$TMPD/apt.log" >&2
		return 1
	}
	find "$TMPD/deb" -name "${1}_*.deb" | head -1
}

fetch_base() {
	local kpkg deb
	apt_private || return 1
	kpkg=$(apt-cache "${APTO[@]}" depends linux-image-arm64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || {
		echo "apt knows no linux-image-arm64" >&2
		return 1
	}
	say "downloading $kpkg (arm64, about 60 MB, once)"
	deb=$(download "$kpkg") && [ -n "$deb" ] || return 1
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$TMPD" --wildcards "./usr/lib/linux-image-*/broadcom/$BASE_NAME" ||
		fail "no broadcom/$BASE_NAME in $kpkg"
	mkdir -p "$CACHE"
	cp "$TMPD"/usr/lib/linux-image-*/broadcom/"$BASE_NAME" "$CACHE/$BASE_NAME.new"
	echo "$kpkg $(dpkg-deb -f "$deb" Version)" >"$CACHE/SOURCE"
	mv "$CACHE/$BASE_NAME.new" "$CACHE/$BASE_NAME"
	rm -f "$deb"
}

# The binding schemas, processed by this dt-schema (its JSON is tied to the
# dt-schema version, which is therefore part of the cache's key).
DTS_VER=$(dpkg-query -W -f '${Version}' dt-schema 2>/dev/null || echo unknown)
fetch_schema() {
	local deb ver
	apt_private || return 1
	say "downloading linux-source-6.1 (about 140 MB, once) for its binding schemas"
	deb=$(download linux-source-6.1) && [ -n "$deb" ] || return 1
	ver=$(dpkg-deb -f "$deb" Version)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -O --wildcards './usr/src/linux-source-6.1.tar.xz' |
		tar -xJ -C "$TMPD" --wildcards 'linux-source-6.1/Documentation/devicetree/bindings/*' ||
		fail "no Documentation/devicetree/bindings in linux-source-6.1"
	rm -f "$deb"
	say "processing the 6.1 bindings with dt-mk-schema (dt-schema $DTS_VER)"
	dt-mk-schema -j "$TMPD/linux-source-6.1/Documentation/devicetree/bindings" \
		>"$TMPD/processed-schema.json" 2>"$TMPD/mk.log" || {
		cat "$TMPD/mk.log" >&2
		fail "dt-mk-schema could not process the 6.1 bindings"
	}
	mkdir -p "$SCACHE"
	gzip -9 -c "$TMPD/processed-schema.json" >"$SCACHE/processed-schema.json.gz.new"
	echo "linux-source-6.1 $ver dt-schema $DTS_VER" >"$SCACHE/SOURCE"
	mv "$SCACHE/processed-schema.json.gz.new" "$SCACHE/processed-schema.json.gz"
	rm -rf "$TMPD/linux-source-6.1"
}

mkdir -p "$(dirname "$CACHE")"
if [ ! -s "$CACHE/$BASE_NAME" ]; then
	fetch_base || skip "cannot download Debian's arm64 kernel package (for $BASE_NAME)"
fi
say "base: $BASE_NAME from $(cat "$CACHE/SOURCE" 2>/dev/null || echo '?')"
SCHEMA_MISSING=""
if [ ! -s "$SCACHE/processed-schema.json.gz" ] ||
	[ "$(awk '{ print $4 }' "$SCACHE/SOURCE" 2>/dev/null)" != "$DTS_VER" ]; then
	fetch_schema || SCHEMA_MISSING="cannot download linux-source-6.1 (binding schemas for dt-validate)"
fi

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

# want FILE NODE PROP TYPE VALUE: the property has that value
want() {
	local v
	v=$(get "$1" "$2" "$3" "$4")
	[ "$v" = "$5" ] || fail "$(basename "$1"): $2 $3 = <$v>, want <$5>"
}

# flag FILE NODE PROP yes|no: an empty (boolean) property is there, or not
flag() {
	local v
	if v=$(fdtget -t bx "$1" "$2" "$3" 2>/dev/null); then
		[ "$4" = yes ] || fail "$(basename "$1"): $2 has $3, want none"
		[ -z "$v" ] || fail "$(basename "$1"): $2 $3 is not empty: $v"
	else
		[ "$4" = no ] || fail "$(basename "$1"): $2 has no $3"
	fi
}

phandle_of() { get "$1" "$2" phandle u; }

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

# targets FILE NAME: one line "PHANDLE PROPERTY OFFSET BYTEPOS" per target of
# the __overrides__ entry (<&label>, "property:offset", <&label>, ...); OFFSET
# is "-" for a boolean ("property?"), BYTEPOS where the phandle sits.
targets() {
	local bytes
	bytes=$(get "$1" /__overrides__ "$2" bx)
	python3 - "$bytes" <<'EOF'
import sys
b = bytes(int(x, 16) for x in sys.argv[1].split())
i = 0
while i < len(b):
    end = b.find(0, i + 4)
    if end < 0 or i + 4 >= end:
        sys.exit("not <&phandle>, \"string\" targets: %r" % b)
    ph = int.from_bytes(b[i:i + 4], "big")
    prop, _, off = b[i + 4:end].decode().partition(":")
    print(ph, prop, off or "-", i)
    i = end + 1
EOF
}

# check_override DTBO NAME "NODE PROPERTY OFFSET"...: the parameter sets those
# cells (in that order), and the loader can renumber its phandles.
check_override() {
	local f=$1 name=$2 ph prop off pos node got="" fix="" w
	shift 2
	while read -r ph prop off pos; do
		node=$(node_by_phandle "$f" "$ph") || fail "__overrides__/$name: no node with phandle $ph"
		got+="${got:+, }$node $prop $off"
		fix+="${fix:+ }$pos"
	done < <(targets "$f" "$name" || echo "bad")
	w=$(printf '%s, ' "$@")
	[ "$got" = "${w%, }" ] || fail "$(basename "$f"): __overrides__/$name sets [$got], want [${w%, }]"
	# Without __local_fixups__ entries the loader would not renumber the
	# phandles when merging, and the parameter would hit some other node.
	[ "$(get "$f" /__local_fixups__/__overrides__ "$name" u)" = "$fix" ] ||
		fail "$(basename "$f"): __overrides__/$name: phandles at bytes $fix not all in __local_fixups__"
}

# set_param DTBO NAME VALUE: what the firmware's loader does with a parameter:
# an integer replaces the cell at each target's byte offset; a boolean
# ("property?") adds the empty property for y/yes/on/true/1 or removes it.
set_param() {
	local f=$1 name=$2 v=$3 ph prop off pos node cells
	while read -r ph prop off pos; do
		node=$(node_by_phandle "$f" "$ph") || fail "$name: no node with phandle $ph"
		if [ "$off" = - ]; then
			[ "${prop%\?}" != "$prop" ] || fail "$name: $prop has no offset and is no boolean"
			case $v in
			y | yes | on | true | 1) fdtput "$f" "$node" "${prop%\?}" ;;
			*) fdtput -d "$f" "$node" "${prop%\?}" 2>/dev/null || true ;;
			esac
			continue
		fi
		read -r -a cells <<<"$(get "$f" "$node" "$prop" u)"
		if [ $((off % 4)) != 0 ] || [ $((off / 4)) -ge ${#cells[@]} ]; then
			fail "$name: offset $off is not a cell of $prop"
		fi
		cells[off / 4]=$v
		fdtput -t u "$f" "$node" "$prop" "${cells[@]}"
	done < <(targets "$f" "$name")
}

# variant DTBO OUT NAME=VALUE...: a copy of the overlay with parameters applied
variant() {
	local src=$1 dst=$2 p
	shift 2
	cp "$src" "$dst"
	for p in "$@"; do
		set_param "$dst" "${p%%=*}" "${p#*=}"
	done
}

# merge OUT DTBO...: fdtoverlay, as the loader merges.  A labelled __overlay__
# node (a parameter on the target node's own properties, the way Pi OS's
# spi0-cs overlay does it) carries a phandle only for the loader's parameter
# lookup; libfdt 1.6.1's fdtoverlay cannot merge that onto a target that has a
# phandle of its own (FDT_ERR_NOTFOUND), and the kernel never copies a phandle
# onto an existing node, so it is removed from a copy first.
merge() {
	local out=$1 f c n=0
	shift
	local -a ovs=()
	for f in "$@"; do
		n=$((n + 1))
		cp "$f" "$W/merge.$n.dtbo"
		for c in $(fdtget -l "$f" /); do
			fdtput -d "$W/merge.$n.dtbo" "/$c/__overlay__" phandle 2>/dev/null || true
		done
		ovs+=("$W/merge.$n.dtbo")
	done
	fdtoverlay -i "$BASE" -o "$out" "${ovs[@]}" || fail "fdtoverlay could not apply $* to $BASE_NAME"
	rm -f "${ovs[@]}"
}

# line_name FILE GPIONODE N: the Nth gpio-line-names entry
line_name() {
	get "$1" "$2" gpio-line-names | tr ' ' '\n' | sed -n "$(($3 + 1))p"
}

# by_compatible FILE PARENT COMPATIBLE: the first child node with it
by_compatible() {
	local c
	for c in $(fdtget -l "$1" "$2"); do
		if fdtget "$1" "$2/$c" compatible 2>/dev/null | grep -qw -- "$3"; then
			echo "$2/$c"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- symbols
# The labels Raspberry Pi OS's base trees have, on the upstream nodes found by
# compatible (not hard-coded paths), each with a phandle the fixups can use.
NEXTPH=$(dtc -q -I dtb -O dts "$BASE" | sed -n 's/.*phandle = <\(0x[0-9a-f]*\)>;.*/\1/p' |
	while read -r h; do echo $((h)); done | sort -n | tail -1)
fdtget "$BASE" /__symbols__ gpio >/dev/null 2>&1 && fail "base already has __symbols__/gpio: recipe changed?"
fdtput -c "$BASE" /__symbols__ 2>/dev/null || true
# label NAME NODE: __symbols__/NAME = NODE, which gets a phandle if it has none
label() {
	if ! fdtget "$BASE" "$2" phandle >/dev/null 2>&1; then
		NEXTPH=$((${NEXTPH:-0} + 1))
		fdtput -t u "$BASE" "$2" phandle "$NEXTPH"
	fi
	fdtput -t s "$BASE" /__symbols__ "$1" "$2"
}
GPIO=$(by_compatible "$BASE" /soc brcm,bcm2711-gpio) || fail "no brcm,bcm2711-gpio node under /soc"
SPI=$(by_compatible "$BASE" /soc brcm,bcm2835-spi) || fail "no brcm,bcm2835-spi node under /soc"
UART1=$(by_compatible "$BASE" /soc brcm,bcm2835-aux-uart) || fail "no brcm,bcm2835-aux-uart under /soc"
fdtget -l "$BASE" /clocks >/dev/null 2>&1 || fail "no /clocks node in $BASE_NAME"
# Pi OS's spidev0.0 on CE0, which the CAN overlay must disable (upstream has none).
SPIDEV=$SPI/spidev@0
fdtput -c "$BASE" "$SPIDEV"
fdtput -t s "$BASE" "$SPIDEV" compatible spidev
fdtput -t u "$BASE" "$SPIDEV" reg 0
fdtput -t u "$BASE" "$SPIDEV" spi-max-frequency 125000000
fdtput -t s "$BASE" "$SPIDEV" status okay
label gpio "$GPIO"
label spi0 "$SPI"
label uart1 "$UART1"
label spidev0 "$SPIDEV"
GPIOPH=$(phandle_of "$BASE" "$GPIO")
UART1PH=$(phandle_of "$BASE" "$UART1")
say "base prepared: __symbols__ gpio=$GPIO spi0=$SPI uart1=$UART1 spidev0=$SPIDEV (stand-in)"
nchild=$(fdtget -l "$BASE" "$GPIO" | wc -l)

# ---------------------------------------------------------------- checks of a merged tree
# check_pulse MERGED PIN PULL EXTRA: the hog is in the merged tree, as
# configured; EXTRA = pin groups the other overlays added to the controller
check_pulse() {
	local m=$1 pin=$2 pull=$3 pins ph
	pins=$GPIO/powerd_pulse_pins
	fdtget "$m" "$pins" brcm,pins >/dev/null 2>&1 || fail "$m: no $pins node"
	want "$m" "$pins" brcm,pins u "$pin"
	want "$m" "$pins" brcm,function u 0 # input
	want "$m" "$pins" brcm,pull u "$pull"
	# The hog: the controller's own default state points at the new node.
	ph=$(phandle_of "$m" "$pins")
	want "$m" "$GPIO" pinctrl-0 u "$ph"
	want "$m" "$GPIO" pinctrl-names s default
	[ "$(fdtget -l "$m" "$GPIO" | wc -l)" = $((nchild + 1 + $4)) ] ||
		fail "$m: $GPIO should have its $nchild pin groups plus $((1 + $4)) of the overlays"
	# powerd's `line = GPIO<pin>` on Raspberry Pi OS: the base names the line so.
	[ "$(line_name "$m" "$GPIO" "$pin")" = "GPIO$pin" ] ||
		fail "$m: gpio-line-names[$pin] = $(line_name "$m" "$GPIO" "$pin"), want GPIO$pin"
}

# check_can MERGED OSCILLATOR INTERRUPT SPIMAXFREQUENCY
check_can() {
	local m=$1 can=$SPI/can@0 osc=/clocks/powerd-can0-osc int=$GPIO/powerd_can0_int
	want "$m" "$SPIDEV" status s disabled
	want "$m" "$SPI" status s okay
	want "$m" "$can" compatible s microchip,mcp2515
	want "$m" "$can" reg u 0
	want "$m" "$can" spi-max-frequency u "$4"
	want "$m" "$can" interrupt-parent u "$GPIOPH"
	want "$m" "$can" interrupts u "$3 8" # IRQ_TYPE_LEVEL_LOW
	want "$m" "$can" clocks u "$(phandle_of "$m" "$osc")"
	want "$m" "$can" pinctrl-names s default
	want "$m" "$can" pinctrl-0 u "$(phandle_of "$m" "$int")"
	want "$m" "$osc" compatible s fixed-clock
	want "$m" "$osc" "#clock-cells" u 0
	want "$m" "$osc" clock-frequency u "$2"
	want "$m" "$int" brcm,pins u "$3"
	want "$m" "$int" brcm,function u 0
	[ "$(fdtget -l "$m" "$SPI" | sort | tr '\n' ' ')" = "can@0 spidev@0 " ] ||
		fail "$m: $SPI children: $(fdtget -l "$m" "$SPI" | tr '\n' ' ')"
}

# check_rs485 MERGED DIRPIN DIR_LOW(yes|no) DELAY_BEFORE DELAY_AFTER
check_rs485() {
	local m=$1 pins=$GPIO/powerd_rs485_pins
	want "$m" "$UART1" compatible s brcm,bcm2835-aux-uart
	want "$m" "$UART1" phandle u "$UART1PH" # the base's references still hold
	want "$m" "$UART1" status s okay
	want "$m" "$UART1" pinctrl-names s default
	want "$m" "$UART1" pinctrl-0 u "$(phandle_of "$m" "$pins")"
	want "$m" "$UART1" rts-gpios u "$GPIOPH $2 1" # GPIO_ACTIVE_LOW: high while sending
	flag "$m" "$UART1" linux,rs485-enabled-at-boot-time yes
	flag "$m" "$UART1" rs485-rts-active-low "$3"
	want "$m" "$UART1" rs485-rts-delay u "$4 $5"
	want "$m" "$pins" brcm,pins u "14 15"
	want "$m" "$pins" brcm,function u 2 # ALT5: TXD1/RXD1
	want "$m" "$pins" brcm,pull u "0 2"
}

# ---------------------------------------------------------------- powerd-pulse
M=$W/pulse.dtb
merge "$M" "$PULSE"
check_pulse "$M" 17 2 0
say "pulse, defaults: $GPIO/powerd_pulse_pins brcm,pins=<17> brcm,function=<0> brcm,pull=<2>, hogged"
OVPINS=/fragment@0/__overlay__/powerd_pulse_pins
check_override "$PULSE" gpiopin "$OVPINS brcm,pins 0"
check_override "$PULSE" pull "$OVPINS brcm,pull 0"
variant "$PULSE" "$W/pulse27.dtbo" gpiopin=27 pull=1
merge "$W/pulse27.dtb" "$W/pulse27.dtbo"
check_pulse "$W/pulse27.dtb" 27 1 0
say "pulse, gpiopin=27,pull=1: brcm,pins=<27> brcm,pull=<1>, line GPIO27"

# ---------------------------------------------------------------- powerd-mcp2515-can0
merge "$W/can.dtb" "$CAN"
check_can "$W/can.dtb" 16000000 25 10000000
say "can0, defaults: $SPI/can@0 mcp2515 on CE0, INT GPIO25 level-low, 16 MHz crystal, spidev0.0 off"
check_override "$CAN" oscillator "/fragment@2/__overlay__/powerd-can0-osc clock-frequency 0"
check_override "$CAN" interrupt "/fragment@1/__overlay__/powerd_can0_int brcm,pins 0" \
	"/fragment@3/__overlay__/can@0 interrupts 0"
check_override "$CAN" spimaxfrequency "/fragment@3/__overlay__/can@0 spi-max-frequency 0"
for osc in 8000000 12000000; do
	variant "$CAN" "$W/can$osc.dtbo" oscillator=$osc interrupt=24 spimaxfrequency=2000000
	merge "$W/can$osc.dtb" "$W/can$osc.dtbo"
	check_can "$W/can$osc.dtb" $osc 24 2000000
done
say "can0, oscillator=8000000|12000000,interrupt=24,spimaxfrequency=2000000: applied"

# ---------------------------------------------------------------- powerd-rs485
merge "$W/rs485.dtb" "$RS485"
check_rs485 "$W/rs485.dtb" 4 no 0 0
say "rs485, defaults: $UART1 (mini UART, ttyS0) on GPIO14/15, rs485 at boot, rts-gpios GPIO4"
OVUART=/fragment@1/__overlay__
check_override "$RS485" dirpin "$OVUART rts-gpios 4"
check_override "$RS485" dir_low "$OVUART rs485-rts-active-low? -"
check_override "$RS485" delay_before "$OVUART rs485-rts-delay 0"
check_override "$RS485" delay_after "$OVUART rs485-rts-delay 4"
variant "$RS485" "$W/rs485p.dtbo" dirpin=22 dir_low=on delay_before=1 delay_after=2
merge "$W/rs485p.dtb" "$W/rs485p.dtbo"
check_rs485 "$W/rs485p.dtb" 22 yes 1 2
variant "$W/rs485p.dtbo" "$W/rs485q.dtbo" dir_low=off
merge "$W/rs485q.dtb" "$W/rs485q.dtbo"
check_rs485 "$W/rs485q.dtb" 22 no 1 2
say "rs485, dirpin=22,dir_low=on|off,delay_before=1,delay_after=2: applied"

# ---------------------------------------------------------------- all three, as on one HAT stack
merge "$W/all.dtb" "$PULSE" "$CAN" "$RS485"
check_pulse "$W/all.dtb" 17 2 2
check_can "$W/all.dtb" 16000000 25 10000000
check_rs485 "$W/all.dtb" 4 no 0 0
merge "$W/allp.dtb" "$W/pulse27.dtbo" "$W/can12000000.dtbo" "$W/rs485p.dtbo"
check_pulse "$W/allp.dtb" 27 1 2
check_can "$W/allp.dtb" 12000000 24 2000000
check_rs485 "$W/allp.dtb" 22 yes 1 2
say "all three overlays at once: defaults and with parameters"

# ---------------------------------------------------------------- dt-validate
[ -z "$SCHEMA_MISSING" ] || skip "$SCHEMA_MISSING; every other check passed"
gzip -dc "$SCACHE/processed-schema.json.gz" >"$W/schema.json"
# A control that must fail: a fixed clock without its clock-frequency
# (fixed-clock.yaml requires it) and a boolean with a value (dt-core's property
# types), so a schema that checks nothing is noticed.  A tree of its own:
# dt-validate takes about 15 s of CPU for each full Pi tree.
cat >"$W/control.dts" <<'EOF2'
/dts-v1/;
/ {
	compatible = "raspberrypi,4-model-b", "brcm,bcm2711";
	model = "t_dt_overlay control";
	#address-cells = <1>;
	#size-cells = <1>;
	clocks {
		powerd-can0-osc {
			compatible = "fixed-clock";
			#clock-cells = <0>;
		};
	};
	serial@7e215040 {
		compatible = "brcm,bcm2835-aux-uart";
		reg = <0x7e215040 0x40>;
		linux,rs485-enabled-at-boot-time = <1>;
	};
};
EOF2
dtc -q -I dts -O dtb -o "$W/control.dtb" "$W/control.dts" || fail "control.dts"
# The base's own messages depend only on the base and the schemas: cached.
key=$(cat "$BASE" "$SCACHE/processed-schema.json.gz" | sha256sum | cut -c1-16)
files=("$W/all.dtb" "$W/allp.dtb" "$W/control.dtb")
[ -f "$SCACHE/base-messages.$key" ] || files+=("$BASE")
say "dt-validate ${files[*]##*/}"
dt-validate -s "$W/schema.json" "${files[@]}" >"$W/validate.log" 2>&1 || true
python3 - "$W" "$SCACHE/base-messages.$key" <<'EOF2' || fail "dt-validate: see $W/validate.log"
import os, sys
w, cached = sys.argv[1], sys.argv[2]
msgs = {}
for line in open(w + "/validate.log"):
    if line.startswith(w + "/"):
        f, _, m = line.rstrip("\n").partition(": ")
        msgs.setdefault(f.rsplit("/", 1)[1], set()).add(m)
if os.path.exists(cached):
    base = set(open(cached).read().splitlines())
else:
    base = msgs.get("base.dtb", set())
    with open(cached + ".new", "w") as out:
        out.write("".join(m + "\n" for m in sorted(base)))
    os.rename(cached + ".new", cached)
bad = False
for f in ("all.dtb", "allp.dtb"):
    for m in sorted(msgs.get(f, set()) - base):
        print("dt-validate %s: %s" % (f, m), file=sys.stderr)
        bad = True
ctl = msgs.get("control.dtb", set())
for what, words in (("a fixed clock without clock-frequency", ("powerd-can0-osc", "clock-frequency")),
                    ("a boolean with a value", ("linux,rs485-enabled-at-boot-time", "type"))):
    if not any(all(x in m for x in words) for m in ctl):
        print("dt-validate did not notice %s in control.dtb" % what, file=sys.stderr)
        bad = True
print("t_dt_overlay: dt-validate: the base has %d messages, the merged trees no new one; "
      "the control's %d found" % (len(base), len(ctl)))
sys.exit(1 if bad else 0)
EOF2
echo "PASS: the kmod-dt overlays apply to $BASE_NAME (pulse, mcp2515-can0, rs485; with parameters) and validate"
