#!/bin/bash
# The systemd unit, made from daemon/powerd.service.in as `make install
# PREFIX=/usr` makes it, checked offline (no systemd as PID 1 needed):
#  1. `systemd-analyze security --offline=true`: overall exposure <= 2.0;
#  2. `systemd-analyze verify` on a copy whose ExecStart is the built powerd
#     (and the pages it names in a MANPATH of its own): no output at all
#     (unknown keys, bad values, unknown syscall names are only warnings
#     there, and each silently weakens the unit);
#  3. what powerd needs is still granted (Type=notify, the GPIO chips,
#     AF_UNIX/INET/INET6/CAN, state and runtime directories, io_uring);
#  4. the system-call filter kills nothing powerd calls: powerd runs under
#     strace (check, start, HTTP, control socket, sd_notify, SIGHUP reload,
#     persist, SIGTERM) and every system call it made must be in the
#     unit's effective allow list, as systemd computes it from the groups.
#   tests/t_systemd_unit.sh BUILD_DIR
# Exit: 0 pass, 77 systemd-analyze is missing, 1 fail.
set -u
B=${1:-build}
. tests/lib.sh
MAX_EXPOSURE=2.0

command -v systemd-analyze >/dev/null || {
	echo "SKIP: systemd-analyze is missing"
	exit 77
}
T=$(mktemp -d)
PID=""
SPID=""
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
UNIT=$T/unit/powerd.service
make -s --no-print-directory O="$T/unit" PREFIX=/usr "$UNIT" || fail "make $UNIT"
grep -Eq '@[A-Z]+@' "$UNIT" && fail "$UNIT: a template word is left: $(grep -E '@[A-Z]+@' "$UNIT")"

# ---------------------------------------------------------------- 1. exposure
THRESHOLD=$(awk "BEGIN{print $MAX_EXPOSURE*10}") # the option is on a x10 scale
systemd-analyze security --offline=true --threshold="$THRESHOLD" --no-pager "$UNIT" >"$T/security.txt" 2>&1
rc=$?
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/security.txt")
[ -n "$score" ] || {
	cat "$T/security.txt"
	fail "no 'Overall exposure level' line from systemd-analyze security"
}
awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' || {
	grep '✗' "$T/security.txt"
	fail "exposure $score > $MAX_EXPOSURE"
}
[ $rc -eq 0 ] || fail "systemd-analyze security --threshold failed (exit $rc) at exposure $score"
echo "exposure: $score (<= $MAX_EXPOSURE)"

# ---------------------------------------------------------------- 2. verify
PD=$(cd "$(dirname "$B/powerd")" && pwd)/powerd
[ -x "$PD" ] || fail "$PD not built"
sed "s|/usr/bin/powerd|$PD|g" "$UNIT" >"$T/powerd.service"
mkdir -p "$T/man/man5" "$T/man/man8"
cp man/powerd.8 "$T/man/man8/"
"$PD" --defaults=man >"$T/man/man5/powerd.conf.5" || fail "powerd --defaults=man"
MANPATH=$T/man systemd-analyze verify "$T/powerd.service" >"$T/verify.txt" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ -s "$T/verify.txt" ]; then
	cat "$T/verify.txt"
	fail "systemd-analyze verify (exit $rc) is not silent"
fi
echo "verify: clean"

# ---------------------------------------------------------------- 3. needs
# directive VALUE...: the values of a [Service] directive, one per line, in order
directive() {
	sed -n "/^\[Service\]/,/^\[/ s/^$1=\(.*\)$/\1/p" "$UNIT"
}
want() { # directive, expected value (a grep -E on its lines), why
	directive "$1" | grep -Eq -- "$2" || fail "$UNIT: $1 must match '$2' ($3)"
}
want Type '^notify$' "powerd sends READY=1 and RELOADING=1"
want DeviceAllow '^char-gpiochip rw$' "the pulse input is /dev/gpiochipN"
want DevicePolicy '^(closed|auto)$' "strict would hide /dev/gpiochipN"
for tty in ttyAMA ttyS ttyUSB ttyACM; do
	want DeviceAllow "^char-$tty rw$" "Modbus RTU reads /dev/${tty}N"
done
want SupplementaryGroups '(^| )dialout( |$)' "serial ports are root:dialout"
for af in AF_UNIX AF_INET AF_INET6 AF_CAN; do
	want RestrictAddressFamilies "(^| )$af( |$)" "$af sockets"
done
want StateDirectory '^powerd$' "energy counters are persisted in state_dir"
want RuntimeDirectory '^powerd$' "the control socket is in /run/powerd"
for bad in 'PrivateDevices=(yes|true|1)' 'PrivateNetwork=(yes|true|1)' \
	'RestrictAddressFamilies=~' 'SystemCallErrorNumber='; do
	grep -Eq "^$bad" "$UNIT" && fail "$UNIT: $bad would take away what powerd needs or hide a denied call"
done
echo "needs: notify, gpiochip rw, serial ports rw, AF_UNIX/INET/INET6/CAN, StateDirectory, RuntimeDirectory"

# ---------------------------------------------------------------- 4. syscalls
# systemd's own group lists (systemd-analyze syscall-filter, offline), and
# the unit's SystemCallFilter= lines applied in order: the first one decides
# allow list or deny list, later `~` entries remove, later plain ones add.
systemd-analyze syscall-filter --no-pager >"$T/groups.txt" 2>/dev/null || fail "systemd-analyze syscall-filter"
directive SystemCallFilter >"$T/filter.txt"
[ -s "$T/filter.txt" ] || fail "$UNIT has no SystemCallFilter="
python3 - "$T/groups.txt" "$T/filter.txt" >"$T/allowed.txt" <<'EOF' || fail "cannot evaluate SystemCallFilter="
import sys
groups, cur = {}, None
for line in open(sys.argv[1]):
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    if not line[0].isspace():
        cur = groups.setdefault(s, [])
    elif cur is not None:
        cur.append(s)

def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    if name not in groups:
        sys.exit("unknown group " + name)
    out = set()
    for m in groups[name]:
        if m not in seen:
            out |= expand(m, seen + (name,))
    return out

allow = None
for line in open(sys.argv[2]):
    v = line.strip()
    if not v:
        continue
    neg = v.startswith("~")
    names = set()
    for w in v.lstrip("~").split():
        names |= expand(w)
    if allow is None:
        if neg:
            sys.exit("deny-list filters are not evaluated here")
        allow = expand("@default") | names  # systemd adds @default
    elif neg:
        allow -= names
    else:
        allow |= names
print("\n".join(sorted(allow)))
EOF
for s in io_uring_setup io_uring_enter io_uring_register; do
	grep -qx "$s" "$T/allowed.txt" || fail "SystemCallFilter denies $s (the event loop is io_uring)"
done

if ! command -v strace >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace >/dev/null 2>&1
	elif command -v sudo >/dev/null; then
		sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace >/dev/null 2>&1
	fi
	command -v strace >/dev/null || {
		echo "SKIP: strace is missing and could not be installed: the filter was not checked against powerd's calls"
		exit 77
	}
fi
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
mkdir -p "$T/state" "$T/run"
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/run/powerd.sock
persist_interval = 1s

[pulse.demo]
replay           = $PWD/examples/demo-trace.txt
speed            = 1
loop             = yes
impulses_per_kwh = 1000
min_pulse_ms     = 5
EOC
# sd_notify() only writes when NOTIFY_SOCKET is set; a path nobody listens
# on still makes it issue its socket/connect/sendmsg calls.
export NOTIFY_SOCKET=$T/notify.sock
strace -f -qq -o "$T/check.strace" "$PD" --check -c "$T/powerd.conf" >/dev/null 2>&1 ||
	fail "powerd --check failed under strace"
# Signals go to powerd itself: strace -o blocks the fatal ones for itself.
strace -f -qq -o "$T/run.strace" "$PD" -c "$T/powerd.conf" 2>"$T/powerd.log" &
SPID=$!
wait_for 10 pgrep -P "$SPID" || fail "strace did not start powerd"
PID=$(pgrep -P "$SPID")
wait_for 20 curl -fsS "$URL/metrics" || {
	cat "$T/powerd.log"
	fail "powerd did not serve /metrics under strace"
}
for p in /metrics /api/status /; do
	curl -fsS "$URL$p" >/dev/null || fail "GET $p"
done
"$B/powerctl" -s "$T/run/powerd.sock" status >/dev/null || fail "powerctl status"
announced() { [ "$(grep -c 'running with' "$T/powerd.log")" -ge "$1" ]; }
kill -HUP "$PID"
wait_for 10 announced 2 || fail "powerd did not reload on SIGHUP under strace"
wait_for 20 curl -fsS "$URL/metrics" || fail "GET /metrics after SIGHUP"
sleep 1.5 # one persist interval: the write-fsync-rename path runs
kill -TERM "$PID"
gone() { ! kill -0 "$PID" 2>/dev/null; }
wait_for 15 gone || fail "powerd did not stop on SIGTERM under strace"
PID=
wait "$SPID"
rc=$?
SPID=
[ $rc -eq 0 ] || {
	tail -n 20 "$T/powerd.log"
	fail "powerd exited $rc on SIGTERM under strace"
}
ls "$T"/state/* >/dev/null 2>&1 || fail "powerd persisted nothing in state_dir"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$T/check.strace" "$T/run.strace" | sort -u >"$T/used.txt"
[ "$(wc -l <"$T/used.txt")" -gt 20 ] || fail "strace recorded almost nothing"
grep -qx io_uring_enter "$T/used.txt" || fail "strace saw no io_uring_enter: not the io_uring loop?"
denied=$(grep -vxF -f "$T/allowed.txt" "$T/used.txt")
[ -z "$denied" ] || fail "SystemCallFilter would kill powerd (SIGSYS) on: $(echo "$denied" | tr '\n' ' ')"
echo "syscalls: $(wc -l <"$T/used.txt") distinct calls made by powerd, all allowed by the filter"
echo "PASS: daemon/powerd.service.in: exposure $score, verify clean, needs granted, filter covers powerd"
