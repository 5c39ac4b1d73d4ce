#!/bin/bash
# make cross for both Raspberry Pi architectures (arm64, armhf): each
# binary is an ELF of the right machine; under qemu-user, with the sysroot
# as its root, the unit tests that need no io_uring (ENOSYS there) pass,
# and pulselog, canlog and modpoll give the native build's output byte for
# byte (stdout, stderr, exit status) on the tests' traces and captures and
# against libmodbus's server on loopback; powerd --defaults and every
# --version the same.  make deb ARCH=...: each package's Architecture, its
# Depends naming the libraries' runtime packages, its programs built for
# the Pi.  Skips (77) when Debian's archive cannot be reached and no
# sysroot was made before.
set -u
B=${1:-build}
. tests/lib.sh
T=$(mktemp -d)
SP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$T"' EXIT
for x in "$B/pulselog" "$B/canlog" "$B/modpoll" "$B/powerd" "$B/powerctl" "$B/tests/modbus_server"; do
	[ -x "$x" ] || fail "$x missing: make test-build"
done
for x in aarch64-linux-gnu-gcc arm-linux-gnueabihf-gcc qemu-aarch64-static qemu-arm-static file; do
	command -v "$x" >/dev/null || fail "$x missing: tools/install-deps.sh cross"
done
ARCHES="arm64 armhf"
export TZ=UTC LC_ALL=C

# The sysroots, both at once (the first time they are downloaded).
for a in $ARCHES; do
	tools/cross-sysroot.sh "$a" "$B/cross" >"$T/sysroot-$a" 2>"$T/sysroot-$a.err" &
	echo $! >"$T/sysroot-$a.pid"
done
for a in $ARCHES; do
	wait "$(cat "$T/sysroot-$a.pid")"
	rc=$?
	cat "$T/sysroot-$a.err"
	if [ $rc = 3 ]; then
		echo "t_cross: no $a sysroot: Debian's archive is out of reach ($(tail -n 1 "$T/sysroot-$a.err"))"
		exit 77
	fi
	[ $rc = 0 ] || fail "tools/cross-sysroot.sh $a failed"
done
echo "t_cross: sysroots ready ($SECONDS s)"
t0=$SECONDS
for a in $ARCHES; do
	make -j2 --no-print-directory O="$B" cross ARCH="$a" >"$T/make-$a.log" 2>&1 ||
		fail "make cross ARCH=$a: $(grep -m 5 -E 'error|Error' "$T/make-$a.log")"
done
echo "t_cross: make cross for $ARCHES ($((SECONDS - t0)) s)"
t0=$SECONDS

# The machine: file(1)'s word for each binary.
machine() {
	case $1 in
	arm64) echo "ELF 64-bit LSB .*ARM aarch64.*interpreter /lib/ld-linux-aarch64.so.1" ;;
	armhf) echo "ELF 32-bit LSB .*ARM, EABI5.*interpreter /lib/ld-linux-armhf.so.3" ;;
	esac
}
for a in $ARCHES; do
	for p in powerd powerctl pulselog canlog modpoll; do
		file -b "$B/cross-$a/$p" | grep -Eq "$(machine "$a")" || fail "$a $p: $(file -b "$B/cross-$a/$p")"
	done
done

# same NAME TOOL ARGS...: the tool run natively and under qemu-user for
# every architecture; stdout, stderr and the exit status must be the same.
same() {
	local name=$1 tool=$2 a
	shift 2
	"$B/$tool" "$@" >"$T/$name.native.out" 2>"$T/$name.native.err" <"${STDIN:-/dev/null}"
	echo $? >"$T/$name.native.rc"
	for a in $ARCHES; do
		timeout 300 "$(qemu "$a")" -L "$B/cross/sysroot-bookworm-$a" "$B/cross-$a/$tool" "$@" \
			>"$T/$name.$a.out" 2>"$T/$name.$a.err" <"${STDIN:-/dev/null}"
		echo $? >"$T/$name.$a.rc"
		for k in rc out err; do
			cmp -s "$T/$name.native.$k" "$T/$name.$a.$k" ||
				fail "$name ($tool $*): $a's $k differs: $(diff "$T/$name.native.$k" "$T/$name.$a.$k" | head -n 6)"
		done
	done
}
qemu() { case $1 in arm64) echo qemu-aarch64-static ;; armhf) echo qemu-arm-static ;; esac; }

for p in powerd powerctl pulselog canlog modpoll; do
	same "version-$p" "$p" --version
	grep -q '0\.[0-9]' "$T/version-$p.native.out" || fail "$p --version: $(cat "$T/version-$p.native.out")"
done
# the configuration tables, every default and its text
same defaults powerd --defaults
same defaults-man powerd --defaults=man
[ "$(wc -l <"$T/defaults.native.out")" -gt 100 ] || fail "powerd --defaults: $(head -n 3 "$T/defaults.native.out")"

# Unit tests without io_uring (test_loop and test_tcpconn need it, so make
# cross does not build them); test_serial is built, not run: qemu-user has
# no TCGETS2.  test_sink_mqtt and test_sink_cloudwatch end 77 after their
# offline part (they need a broker or a server for the rest).  The long
# randomised round trips (10^5 values each) on armhf only: its 32-bit long
# and size_t are what the native build lacks, arm64 would repeat the
# native run 10 times slower.  The threaded stress tests (ring, recring,
# uploader) only with T_CROSS_ALL=1: qemu runs them with this host's (x86)
# memory order, so their point, the ordering, is not tested there, and
# they take minutes.
# Two at a time.
ARMHF_ONLY=" test_sample test_lineproto "
THREADED=" test_ring test_recring test_uploader "
for a in $ARCHES; do
	for t in "$B/cross-$a"/tests/test_*; do
		n=$(basename "$t")
		[ "$n" = test_serial ] && continue
		[ "$a" = arm64 ] && [[ $ARMHF_ONLY == *" $n "* ]] && continue
		[ -z "${T_CROSS_ALL:-}" ] && [[ $THREADED == *" $n "* ]] && continue
		echo "$a $t"
	done
done >"$T/units"
[ "$(wc -l <"$T/units")" -ge 50 ] || fail "only $(wc -l <"$T/units") unit tests built: $(cat "$T/units")"
# shellcheck disable=SC2016
xargs -P 2 -L 1 sh -c 'cd "$0" && timeout 600 "$1" -L "$2/cross/sysroot-bookworm-$3" "$4" >"$5/unit-$3-${4##*/}.log" 2>&1;
	rc=$?; [ $rc = 0 ] || [ $rc = 77 ] || echo "$3 ${4##*/} exit $rc" >>"$5/unit-failed"' \
	"$PWD" <<EOF
$(while read -r a t; do echo "$(qemu "$a") $B $a $t $T"; done <"$T/units")
EOF
[ -s "$T/unit-failed" ] && {
	while read -r a t _; do tail -n 5 "$T/unit-$a-$t.log"; done <"$T/unit-failed"
	fail "unit tests under qemu: $(cat "$T/unit-failed")"
}
echo "t_cross: $(wc -l <"$T/units") unit tests passed under qemu-user ($((SECONDS - t0)) s)"
t0=$SECONDS

# pulselog: the traces of t_pulselog (exact counts, energy, CSV), bad lines
# with FILE:LINE, a 100 KiB line and out-of-range times, stdin, usage errors.
for spec in "constant:1500 800" "household 1000" "steps:300,4000,90:600 10000"; do
	set -- $spec
	python3 tools/gentrace.py --profile "$1" --impulses-per-kwh "$2" --seconds 3600 \
		--jitter-us 50 --glitches 0.2 --seed 11 -o "$T/t-$2.txt" 2>/dev/null || fail "gentrace $spec"
	same "pulselog-$2" pulselog "$T/t-$2.txt" --impulses-per-kwh "$2"
	[ "$(wc -l <"$T/pulselog-$2.native.out")" -gt 100 ] || fail "pulselog $spec: $(head -n 3 "$T/pulselog-$2.native.out")"
done
printf '0 0\n1 1\n1.03 0\nnot a line\n2 1\n2.03 0\n1.5 1\n' >"$T/bad.txt"
same pulselog-bad pulselog "$T/bad.txt" --impulses-per-kwh 1000
{
	printf '0 0\n1 1\n1.03 0\n'
	head -c 102400 /dev/zero | tr '\0' '#'
	printf '\n9200000000 1\n2 1\n2.03 0\n4611686018.427387904 1\n3 1\n3.03 0\n'
} >"$T/edge.txt"
same pulselog-edge pulselog "$T/edge.txt" --impulses-per-kwh 1000 --quiet
grep -q 'out of range' "$T/pulselog-edge.native.err" || fail "pulselog edge: $(cat "$T/pulselog-edge.native.err")"
STDIN=$T/edge.txt same pulselog-stdin pulselog - --impulses-per-kwh 1000
same pulselog-usage pulselog "$T/bad.txt"
same pulselog-zero pulselog "$T/bad.txt" --impulses-per-kwh 0

# canlog on the EcoFlow captures: the check vector decoded, the battery
# log listed, counted, as JSON, as samples, as hex diffs, by stream, as
# statistics and a pivot; --regen's frames; the SavvyCAN CSV with --err;
# a bad option.
F=tests/fixtures/can
LFP=$F/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log
same canlog-3c canlog --json --decode=share/ecoflow.json "$F/single-message-3C.log"
grep -q M102Z3B4ZE5H0601 "$T/canlog-3c.native.out" || fail "canlog check vector: $(cat "$T/canlog-3c.native.out")"
same canlog-list canlog "$LFP"
same canlog-count canlog --count "$LFP"
same canlog-json canlog --json --hex "$LFP"
same canlog-lp canlog --lp --decode=share/ecoflow.json "$LFP"
same canlog-hexdiff canlog --hex=diff --cmd=03:1A --dst=0x21 "$LFP"
same canlog-str canlog --str --nodes=03130,03001 "$LFP"
same canlog-stat canlog --stat "$LFP"
same canlog-pivot canlog --pivot=6 "$LFP"
same canlog-csv canlog --csv --err --json "$F/delta.later.AC.out.on.csv"
same canlog-bad canlog --cmd=3:1A "$LFP"
"$B/canlog" --count --regen="$T/re.log" "$LFP" >/dev/null 2>&1 || fail "canlog --regen"
mv "$T/re.log" "$T/re.native.log"
for a in $ARCHES; do
	timeout 300 "$(qemu "$a")" -L "$B/cross/sysroot-bookworm-$a" "$B/cross-$a/canlog" --count \
		--regen="$T/re.log" "$LFP" >/dev/null 2>&1 || fail "$a canlog --regen"
	cmp -s "$T/re.native.log" "$T/re.log" || fail "$a canlog --regen: $(diff "$T/re.native.log" "$T/re.log" | head -n 4)"
done
[ "$(grep -c '"chan"' "$T/canlog-json.native.out")" -gt 1000 ] || fail "canlog --json: $(head -n 2 "$T/canlog-json.native.out")"

# modpoll over TCP against libmodbus's server on loopback (three devices:
# 0 as set, 1 answers exception 2, 2 is silent); RTU is not run, qemu-user
# has no TCGETS2.
P=$(free_ports 4)
[ -n "$P" ] || fail "no 4 consecutive free ports"
"$B/tests/modbus_server" --port "$P" --count 3 --regs tests/fixtures/modbus/types.regs \
	--behave 1=exception:2 --behave 2=silent --ready "$T/srv.ready" 2>"$T/srv.err" &
SP=$!
wait_for 10 test -e "$T/srv.ready" || fail "modbus_server: $(cat "$T/srv.err")"
U=tcp://127.0.0.1:$P
M=tests/fixtures/modbus/types.map
same modpoll-read modpoll "$U" --read holding 0 24
grep -q '^1 *0x04D2 *1234$' "$T/modpoll-read.native.out" || fail "modpoll --read: $(cat "$T/modpoll-read.native.out")"
same modpoll-map modpoll "$U" --map "$M"
same modpoll-swapped modpoll "$U" --map tests/fixtures/modbus/swapped.map
same modpoll-field modpoll "$U" --map "$M" --field pi,delta,name,mode
same modpoll-count modpoll "$U" --read input 0 2 --count 3 --interval 10ms
same modpoll-exc modpoll "tcp://127.0.0.1:$((P + 1))" --map "$M"
same modpoll-silent modpoll "tcp://127.0.0.1:$((P + 2))" --read input 5 1 --timeout 200ms
same modpoll-refused modpoll "tcp://127.0.0.1:$((P + 3))" --read holding 0 1
same modpoll-usage modpoll "$U" --read holding 65535 2
# --lp: the same lines but for the time stamp
for a in native $ARCHES; do
	if [ $a = native ]; then
		"$B/modpoll" "$U" --map "$M" --lp
	else
		timeout 300 "$(qemu "$a")" -L "$B/cross/sysroot-bookworm-$a" "$B/cross-$a/modpoll" "$U" --map "$M" --lp
	fi | sed -E 's/ [0-9]{19}$/ T/' >"$T/lp.$a" || fail "$a modpoll --lp"
	[ $a = native ] || cmp -s "$T/lp.native" "$T/lp.$a" || fail "$a modpoll --lp: $(diff "$T/lp.native" "$T/lp.$a")"
done
grep -q ' T$' "$T/lp.native" || fail "modpoll --lp: $(cat "$T/lp.native")"
echo "t_cross: pulselog, canlog, modpoll the same as native ($((SECONDS - t0)) s)"
t0=$SECONDS

# make deb ARCH=...: the package of each architecture, its Depends the
# runtime packages of the libraries the binaries link (from the sysroot's
# dpkg database), the five programs in it built for the Pi.
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
for a in $ARCHES; do
	make --no-print-directory O="$B" deb ARCH="$a" >"$T/deb-$a.log" 2>&1 ||
		fail "make deb ARCH=$a: $(grep -E 'error' "$T/deb-$a.log" | head -n 5)"
	d=$B/deb-$a/powerd_$VERSION-1_$a.deb
	[ -f "$d" ] || fail "make deb ARCH=$a made no $d: $(ls "$B/deb-$a")"
	[ "$(dpkg-deb -f "$d" Architecture)" = "$a" ] || fail "$d: Architecture $(dpkg-deb -f "$d" Architecture)"
	dep=$(dpkg-deb -f "$d" Depends)
	for p in libc6 libcjson1 libcurl4 libgpiod2 libinih1 libmicrohttpd12 libmosquitto1 libsocketcan2 \
		libsystemd0 liburing2 zlib1g; do
		[[ ", $dep," == *", $p"[\ ,]* ]] || fail "$a: Depends has no $p: $dep"
	done
	dpkg-deb -c "$d" | awk '{print $NF}' >"$T/deb-$a.files"
	rm -rf "$T/x"
	dpkg-deb -x "$d" "$T/x"
	for p in powerd powerctl pulselog canlog modpoll; do
		grep -qx "./usr/bin/$p" "$T/deb-$a.files" || fail "$d has no /usr/bin/$p"
		file -b "$T/x/usr/bin/$p" | grep -Eq "$(machine "$a")" || fail "$d: /usr/bin/$p: $(file -b "$T/x/usr/bin/$p")"
	done
	timeout 300 "$(qemu "$a")" -L "$B/cross/sysroot-bookworm-$a" "$T/x/usr/bin/powerd" --version >"$T/deb-$a.version" ||
		fail "$d: powerd --version"
	cmp -s "$T/version-powerd.native.out" "$T/deb-$a.version" || fail "$d: powerd --version: $(cat "$T/deb-$a.version")"
	echo "t_cross: $(basename "$d"): Depends: $dep"
done
echo "t_cross: make deb for $ARCHES ($((SECONDS - t0)) s)"
echo "ok: cross"
