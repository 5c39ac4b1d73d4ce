#!/bin/bash
# modpoll (issue 10 item 6) against real servers on loopback: libmodbus's
# (tests/modbus_server) over TCP and a PowMr inverter on a pseudo-terminal
# (tests/rtu_pty_powmr.py) over RTU.  --read's exact hex and decimal lines;
# --map with a map of every type, scale, byte and word order, and a
# derivation, against the registers set with --regs; --field; --lp;
# --count; an exception, a silent device, a refused connection, a bad CRC:
# each one line on stderr and exit 1; a device gone between polls and back;
# --scan over TCP (a server answering three unit ids) and RTU (only unit 5
# answers); polls back to back on tests/rtu_server.py's timed line, none
# sent early or gapped; bad usage exits 2.
set -u
B=${1:-build}
. tests/lib.sh
MP=$B/asan/modpoll
SRV=$B/tests/modbus_server
T=$(mktemp -d)
SP= RP= TP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; [ -n "$RP" ] && kill "$RP" 2>/dev/null
	[ -n "$TP" ] && kill -9 "$TP" 2>/dev/null; rm -rf "$T"' EXIT
[ -x "$MP" ] || fail "$MP missing: make test-build"
[ -x "$SRV" ] || fail "$SRV missing: make test-build (needs libmodbus-dev)"

# serve TAG ARGS...: a modbus_server, its pid in SP (one at a time)
serve() {
	local tag=$1
	shift
	[ -z "$SP" ] || { kill "$SP"; wait "$SP" 2>/dev/null; }
	rm -f "$T/$tag.ready"
	"$SRV" "$@" --ready "$T/$tag.ready" 2>"$T/$tag.srv.err" &
	SP=$!
	wait_for 10 test -e "$T/$tag.ready" || fail "modbus_server $*: $(cat "$T/$tag.srv.err")"
}
# run NAME EXPECTED_RC ARGS...: modpoll's stdout in $T/NAME.out, stderr in $T/NAME.err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$MP" "$@" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	[ "$rc" = "$want" ] || fail "$name: modpoll $* exited $rc, not $want: $(cat "$T/$name.err")"
}
# same STRING FILE: the file holds exactly the text
same() {
	printf '%s\n' "$1" | cmp -s - "$2" || fail "$2: expected:
$1
got:
$(cat "$2")"
}

cat >"$T/regs" <<'EOF'
# the values of t.map, every type and order (holding 100-113), an i32 in input 200
holding 100 2305 0xFF9C 0x0001 0x86A0 0x86A0 0x0001 0x4049 0x0FDB 0x4940 0xDB0F
holding 110 0x1234 0x0085 0x4142 0x4300
input 200 0xFFFF 0xFFFE
EOF
cat >"$T/t.map" <<'EOF'
# modpoll's test map: one value of each type and order
volts   t holding 100 u16 scale=0.1 unit=V
i16v    t holding 101 i16
u32v    t holding 102 u32 unit=Wh
u32w    t holding 104 u32 order=cdab
f32v    t holding 106 f32
f32w    t holding 108 f32 order=badc
hi      t holding 110 u8  byte=hi
lo      t holding 110 u8  byte=lo
flag    t holding 111 bit bit=7
field3  t holding 111 bit bit=0 width=3
name    t holding 112 ascii count=2
i32v    u input   200 i32
derive t.double_volts = t.volts * 2
EOF
PI=$(python3 -c 'import struct; print(repr(struct.unpack(">f", bytes.fromhex("40490fdb"))[0]))')

# Devices: 0 as set, 1 answers exception 2, 2 is silent, 3 as set.
P=$(free_ports 5)
[ -n "$P" ] || fail "no 5 consecutive free ports"
serve main --port "$P" --count 4 --regs "$T/regs" --behave 1=exception:2 --behave 2=silent
U=tcp://127.0.0.1:$P

# --read: exact lines; register 0 is the device index.
run read 0 "$U" --read holding 100 4
same "100    0x0901  2305
101    0xFF9C  65436
102    0x0001  1
103    0x86A0  34464" "$T/read.out"
[ -s "$T/read.err" ] && fail "read: stderr: $(cat "$T/read.err")"
run read3 0 tcp://127.0.0.1:$((P + 3)) --unit 7 --read input 0x0 1
same "0      0x0003  3" "$T/read3.out"

# --map: every type and order, then the derivation.
run map 0 "$U" --map "$T/t.map"
same "t.volts = 230.5 V
t.i16v = -100
t.u32v = 100000 Wh
t.u32w = 100000
t.f32v = $PI
t.f32w = $PI
t.hi = 18
t.lo = 52
t.flag = 1
t.field3 = 5
t.name = \"ABC\"
u.i32v = -2
t.double_volts = 461" "$T/map.out"
# --field: those values, in the order asked, and only their registers read.
run field 0 "$U" --map "$T/t.map" --field field3,t.volts,i32v
same "t.field3 = 5
t.volts = 230.5 V
u.i32v = -2" "$T/field.out"
run nofield 2 "$U" --map "$T/t.map" --field volts,nosuch
grep -q "nosuch: the map has no such value" "$T/nofield.err" || fail "--field nosuch: $(cat "$T/nofield.err")"
# --lp: the samples powerd would publish (one per measurement).
run lp 0 "$U" --map "$T/t.map" --lp
[ "$(wc -l <"$T/lp.out")" = 2 ] || fail "--lp: $(cat "$T/lp.out")"
grep -Eq "^t volts=230\.5,i16v=-100i,u32v=100000i,u32w=100000i,f32v=$PI,f32w=$PI,hi=18i,lo=52i,flag=1i,field3=5i,name=\"ABC\",double_volts=461 [0-9]{19}$" \
	"$T/lp.out" || fail "--lp t: $(cat "$T/lp.out")"
grep -Eq '^u i32v=-2i [0-9]{19}$' "$T/lp.out" || fail "--lp u: $(cat "$T/lp.out")"
# --count: polls apart, one empty line between.
run count 0 "$U" --read holding 100 1 --count 3 --interval 10ms
same "100    0x0901  2305

100    0x0901  2305

100    0x0901  2305" "$T/count.out"

# Failures: one line on stderr each, exit 1.
run exc 1 tcp://127.0.0.1:$((P + 1)) --read holding 100 2
same "modpoll: unit 1, holding 100-101: exception 2 (illegal data address)" "$T/exc.err"
[ -s "$T/exc.out" ] && fail "exception: stdout: $(cat "$T/exc.out")"
run excmap 1 tcp://127.0.0.1:$((P + 1)) --map "$T/t.map"
[ "$(grep -c 'exception 2 (illegal data address)' "$T/excmap.err")" = 2 ] || fail "map, exception: $(cat "$T/excmap.err")"
[ -s "$T/excmap.out" ] && fail "map, exception: stdout: $(cat "$T/excmap.out")"
run silent 1 tcp://127.0.0.1:$((P + 2)) --read input 5 1 --timeout 200ms
same "modpoll: unit 1, input 5: no reply within 200 ms (timeout)" "$T/silent.err"
run refused 1 tcp://127.0.0.1:$((P + 4)) --read holding 0 1 --count 3 --interval 10ms
same "modpoll: cannot connect to 127.0.0.1 port $((P + 4)): Connection refused" "$T/refused.err"
run noname 1 tcp://no-such-host.invalid --read holding 0 1
grep -q "^modpoll: cannot resolve no-such-host.invalid: " "$T/noname.err" || fail "unresolvable: $(cat "$T/noname.err")"

# --scan over TCP: libmodbus answers every unit id on TCP; --units makes
# a gateway with three devices behind it.
serve scan --port "$P" --count 1 --units 3,17,200
run scan 0 "$U" --scan --timeout 20ms
same "unit 3 answers
unit 17 answers
unit 200 answers" "$T/scan.out"
same "modpoll: 3 of 247 units answered (timeout 20 ms)" "$T/scan.err"
serve main --port "$P" --count 3 --regs "$T/regs" --behave 1=exception:2 --behave 2=silent
run scanexc 0 tcp://127.0.0.1:$((P + 1)) --scan --read holding 100 1
[ "$(grep -c '^unit [0-9]* answers: exception 2 (illegal data address)$' "$T/scanexc.out")" = 247 ] ||
	fail "scan, exceptions: $(head -3 "$T/scanexc.out")"
run scannone 1 tcp://127.0.0.1:$((P + 2)) --scan --timeout 5ms
[ -s "$T/scannone.out" ] && fail "scan, silent: stdout: $(head -3 "$T/scannone.out")"
same "modpoll: 0 of 247 units answered (timeout 5 ms)" "$T/scannone.err"

# A device that goes away between polls and comes back: the poll that
# finds the connection closed fails (one line), the next connects again.
serve stop --port "$P" --count 1 --regs "$T/regs" --behave 0=stoppable
"$MP" "$U" --read holding 100 1 --count 3 --interval 2s >"$T/stop.out" 2>"$T/stop.err" &
MPID=$!
wait_for 10 grep -q '^100 ' "$T/stop.out" || fail "stoppable: no first poll: $(cat "$T/stop.err")"
kill -USR1 "$SP"
wait_for 10 test -s "$T/stop.err" || fail "stoppable: the second poll did not fail"
kill -USR1 "$SP"
wait "$MPID"
rc=$?
[ "$rc" = 1 ] || fail "stoppable: exit $rc, not 1"
grep -Eq '^modpoll: unit 1, holding 100: (the device closed the connection|sending: (Broken pipe|Connection reset by peer)|Connection reset by peer)$' \
	"$T/stop.err" || fail "stoppable: $(cat "$T/stop.err")"
[ "$(wc -l <"$T/stop.err")" = 1 ] || fail "stoppable: more than one failure: $(cat "$T/stop.err")"
same "100    0x0901  2305


100    0x0901  2305" "$T/stop.out"

# Usage: exit 2, a message.
run u1 2
run u2 2 http://127.0.0.1:$P --read holding 0 1
run u3 2 "$U" --read coils 0 1
run u4 2 "$U" --read holding 65535 2
run u5 2 "$U" --read holding 0 126
run u6 2 "$U" --read holding 0
run u7 2 "$U" --read holding 0 1 --map "$T/t.map"
run u8 2 "$U" --field volts
run u9 2 "$U"
run u10 2 "$U" --read holding 0 1 --unit 256
run u11 2 "$U" --read holding 0 1 --timeout 5
run u12 2 rtu:///dev/ttyS0 --read holding 0 1 --unit 0
run u13 2 rtu:///dev/ttyS0 --read holding 0 1 --parity X
run u14 2 "$U" --map no-such-map
grep -q "maps/no-such-map.map" "$T/u14.err" || fail "missing map: $(cat "$T/u14.err")"
printf 'v t holding 1 u61\n' >"$T/bad.map"
run u15 2 "$U" --map "$T/bad.map"
same "modpoll: $T/bad.map:1: unknown type 'u61' (u16 i16 u32 i32 f32 u8 i8 bit ascii)" "$T/u15.err"
run u16 2 "$U" --scan --unit 3
for i in $(seq 1 16); do
	[ -s "$T/u$i.err" ] || fail "usage case $i: no message"
	[ -s "$T/u$i.out" ] && fail "usage case $i: stdout: $(cat "$T/u$i.out")"
done
run help 0 --help
grep -q '^usage: modpoll URL' "$T/help.out" || fail "--help"
run version 0 --version
grep -Eq '^modpoll [0-9]+\.[0-9]+' "$T/version.out" || fail "--version"

# RTU over a pseudo-terminal: the PowMr golden reply, register by register.
python3 tests/rtu_pty_powmr.py --link "$T/pty" 2>"$T/pty.err" &
RP=$!
wait_for 10 test -s "$T/pty" || fail "rtu_pty_powmr.py: $(cat "$T/pty.err")"
R=rtu://$(cat "$T/pty")
run rtu 0 "$R" --unit 5 --read holding 4546 16 --baud 2400
same "4546   0xFA00  64000
4547   0xFA00  64000
4548   0xC800  51200
4549   0xFA00  64000
4550   0x3C00  15360
4551   0x7800  30720
4552   0x1E00  7680
4553   0x62D9  25305
4554   0xE90E  59662
4555   0x0000  0
4556   0x0000  0
4557   0x4500  17664
4558   0x0000  0
4559   0x0000  0
4560   0x0000  0
4561   0x0000  0" "$T/rtu.out"
# the shipped map by name: byteswap, scale, unit 5 from the map
run rtumap 0 "$R" --map powmr-lvm --field bulk_voltage,float_voltage,low_cutoff_voltage,inverter.temp
same "inverter.bulk_voltage = 25 V
inverter.float_voltage = 25 V
inverter.low_cutoff_voltage = 20 V
inverter.temp = 69 C" "$T/rtumap.out"
# --unit replaces the map's unit: nobody answers 6
run rtuunit 1 "$R" --map powmr-lvm --field bulk_voltage --unit 6 --timeout 100ms
same "modpoll: unit 6, holding 4546: no reply within 100 ms (timeout)" "$T/rtuunit.err"
run rtucrc 1 "$R" --unit 5 --read holding 9999 1
same "modpoll: unit 5, holding 9999: bad CRC in the reply (line noise, or another baud rate or parity)" "$T/rtucrc.err"
run rtuexc 1 "$R" --unit 5 --read holding 1 3
same "modpoll: unit 5, holding 1-3: exception 2 (illegal data address)" "$T/rtuexc.err"
run rtusilent 1 "$R" --unit 6 --read holding 4546 1 --timeout 100ms
same "modpoll: unit 6, holding 4546: no reply within 100 ms (timeout)" "$T/rtusilent.err"
run rtuscan 0 "$R" --scan --read holding 4546 1 --timeout 20ms
same "unit 5 answers" "$T/rtuscan.out"
# The line's timing (tests/rtu_server.py drops a request sent less than 3.5
# characters after its last reply, or with a gap inside): five polls back
# to back at 2400 baud, the third reply's CRC damaged.
printf 'holding 4546 0x00FA 0x00FA 0x00C8\n' >"$T/rtu.regs"
rm -f "$T/tty"
python3 tests/rtu_server.py --link "$T/tty" --baud 2400 --unit 5 --byteswap --regs "$T/rtu.regs" \
	--bad-crc 3 --ready "$T/tty.ready" --stats "$T/tty.stats" 2>"$T/tty.err" &
TP=$!
wait_for 10 test -e "$T/tty.ready" || fail "rtu_server.py: $(cat "$T/tty.err")"
run rtutimed 1 rtu://"$T/tty" --baud 2400 --map powmr-lvm --field bulk_voltage,low_cutoff_voltage \
	--count 5 --interval 0s
kill "$TP"
printf '\0' >"$T/tty" 2>/dev/null # an idle server sleeps in select() until a byte comes
wait "$TP"
TP=
same "modpoll: unit 5, holding 4546: bad CRC in the reply (line noise, or another baud rate or parity)" \
	"$T/rtutimed.err"
[ "$(grep -c '^inverter.bulk_voltage = 25 V$' "$T/rtutimed.out")" = 4 ] &&
	[ "$(grep -c '^inverter.low_cutoff_voltage = 20 V$' "$T/rtutimed.out")" = 5 ] ||
	fail "timed RTU polls: $(cat "$T/rtutimed.out")"
python3 - "$T/tty.stats" <<-'EOF' || fail "the line's timing: $(cat "$T/tty.stats")"
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["frames"] == 10 and d["answered"] == 10, d
	assert d["dropped_early"] == 0 and d["dropped_gap"] == 0, d
	assert d["min_silence_after_reply_chars"] >= 3.5, d
EOF
run rtunone 1 rtu://"$T/none" --read holding 0 1
grep -q "^modpoll: .*$T/none" "$T/rtunone.err" || fail "missing port: $(cat "$T/rtunone.err")"
echo ok
