#!/bin/bash
# Fault: a configuration whose syntax is fine but whose environment is not
# (issue 6, item 11).  `powerd --check` must see it, with FILE:LINE and exit
# 2, without hanging (a FIFO is never opened), and never pass what the
# daemon then refuses: a state_dir that is a file or read-only, a missing or
# non-regular replay file, a file sink that is a directory, a missing
# ca_file, a JSON source's directory that is missing or a file, a listen
# address with a host name, an EG4 register map that is missing or does not
# load.  `localhost` and InfluxDB's ca_file pass and
# work.  A second powerd on the same state_dir is refused at start with the
# first one's pid, and the first one runs on.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT

# conf NAME DAEMON_EXTRA SECTIONS: write $T/NAME.conf
conf() {
	printf '[daemon]\nstate_dir = %s\nsocket = %s\nlisten = %s\n%b\n%b' \
		"${STATE:-$T/state}" "${SOCK:-$T/run/powerd.sock}" "${LISTEN:-off}" "$2" "$3" \
		>"$T/$1.conf"
}
# want_check NAME LINE TEXT: --check fails with "FILE:LINE: ...TEXT..."
want_check() {
	local out rc
	out=$(timeout 10 "$PD" --check -c "$T/$1.conf" 2>&1)
	rc=$?
	[ $rc -eq 124 ] && fail "$1: --check hung"
	[ $rc -eq 2 ] || fail "$1: --check exit $rc, want 2: $out"
	grep -F -- "$T/$1.conf:$2: " <<<"$out" | grep -qF -- "$3" ||
		fail "$1: want '$T/$1.conf:$2: ...$3...', got: $out"
	echo "ok   $1: $(head -n 1 <<<"$out")"
}
want_ok() {
	local out
	out=$(timeout 10 "$PD" --check -c "$T/$1.conf" 2>&1) || fail "$1: --check failed: $out"
	echo "ok   $1 passes"
}

python3 tools/gentrace.py --profile constant:3600 --seconds 60 --seed 1 -o "$T/trace.txt" 2>/dev/null
METER="[pulse.m]\nreplay = $T/trace.txt\nimpulses_per_kwh = 1000\n"

touch "$T/afile"
STATE=$T/afile conf statefile "" ""
want_check statefile 1 "is a file, not a directory"

mkdir -p "$T/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$T/ro" 2>/dev/null; then
	FAULT_MOUNTS+=("$T/ro")
	STATE=$T/ro/state conf stateroot "" ""
	want_check stateroot 1 "read-only file system"
else
	echo "skip read-only state_dir: cannot mount a tmpfs here"
fi

conf noreplay "" "[pulse.m]\nreplay = $T/missing.txt\nimpulses_per_kwh = 1000\n"
want_check noreplay 6 "replay $T/missing.txt: No such file or directory"

mkfifo "$T/fifo"
conf fiforeplay "" "[pulse.m]\nreplay = $T/fifo\nimpulses_per_kwh = 1000\n"
want_check fiforeplay 6 "is a FIFO"

mkdir "$T/adir"
conf sinkdir "" "$METER[sink.f]\ntype = file\npath = $T/adir\n"
want_check sinkdir 9 "path $T/adir: is a directory"

conf cafile "" "$METER[sink.i]\ntype = influxdb\nurl = https://127.0.0.1:1\ndatabase = x\nca_file = $T/no-ca.pem\n"
want_check cafile 9 "ca_file $T/no-ca.pem: No such file or directory"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/ca.pem" -days 1 \
	-subj /CN=powerd-test >/dev/null 2>&1 || fail "openssl"
conf cafile_ok "" "$METER[sink.i]\ntype = influxdb\nurl = https://127.0.0.1:1\ndatabase = x\nca_file = $T/ca.pem\n"
want_ok cafile_ok

# A JSON source's directory is read, never created: it must exist and be one.
conf nojsondir "" "[json.in]\npath = $T/no-inbox\n"
want_check nojsondir 6 "[json.in]: path $T/no-inbox: No such file or directory"
conf jsonfile "" "[json.in]\npath = $T/afile\n"
want_check jsonfile 6 "path $T/afile: is a file, not a directory"
mkdir "$T/inbox"
conf jsondir_ok "" "[json.in]\npath = $T/inbox\nafter = move\n"
want_ok jsondir_ok
# A read-only directory: fine to keep from, not to delete or move from.
fault_tmpfs "$T/ro" 1m
mount -o remount,ro "$T/ro" || fail "cannot remount $T/ro read-only"
conf jsonro_keep "" "[json.in]\npath = $T/ro\n"
want_ok jsonro_keep
conf jsonro_delete "" "[json.in]\npath = $T/ro\nafter = delete\n"
want_check jsonro_delete 6 "[json.in]: path $T/ro: not writable (Read-only file system), but after = delete"

LISTEN=pi-4.local:9480 conf hostname "" ""
want_check hostname 4 "host names are not resolved"

# localhost passes --check and the daemon then serves on 127.0.0.1.
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
LISTEN=localhost:$PORT conf localhost "" "$METER"
want_ok localhost
pd_start "$T/localhost.conf" "$T/first.log"
FIRST=$PID
curl -fsS "$URL/metrics" | grep -q powerd_build_info || fail "no metrics on localhost:$PORT"
echo "ok   localhost:$PORT serves on 127.0.0.1"

# An EG4 source's register map: a NAME that is not in the data directory,
# a file that does not load (its FILE:LINE), the shipped one.
conf eg4name "" "[eg4.e]\nhost = 192.0.2.1\nmap = no-such-map\n"
want_check eg4name 8 "the map of [eg4.e]: $(pwd)/share/maps/no-such-map.map: No such file"
printf 'soc eg4 input 5 u61\n' >"$T/bad.map"
conf eg4map "" "[eg4.e]\nhost = 192.0.2.1\nmap = $T/bad.map\n"
want_check eg4map 8 "the map of [eg4.e]: $T/bad.map:1: unknown type 'u61'"
conf eg4ok "" "[eg4.e]\nhost = 192.0.2.1\n"
want_ok eg4ok

# A second powerd on the same state_dir (own socket, own port) is refused.
PORT2=$(free_port)
LISTEN=127.0.0.1:$PORT2 SOCK=$T/run2/powerd.sock conf second "" "$METER"
timeout 20 "$PD" -c "$T/second.conf" 2>"$T/second.log"
rc=$?
[ $rc -eq 1 ] || fail "second powerd on one state_dir: exit $rc, want 1: $(cat "$T/second.log")"
grep -q "in use by another powerd (pid $FIRST)" "$T/second.log" ||
	fail "second powerd: no clear message: $(cat "$T/second.log")"
kill -0 "$FIRST" || fail "the first powerd died"
curl -fsS "$URL/metrics" >/dev/null || fail "the first powerd stopped answering"
echo "ok   a second powerd on one state_dir: $(grep -o 'state_dir.*' "$T/second.log" | head -1)"
pd_stop
sanitizer_clean "$T/first.log"
sanitizer_clean "$T/second.log"
echo "all environment checks hold"
