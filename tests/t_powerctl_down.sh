#!/bin/sh
# powerctl's failure paths: powerd not running (missing socket, stale socket),
# usage errors, and a malformed answer; plus the table it prints for a known
# answer.  The answers come from a stand-in server (python3) on a Unix socket
# in a temporary directory, so no powerd is needed.
#   tests/t_powerctl_down.sh BUILD_DIR
set -u

build=${1:?usage: $0 BUILD_DIR}
ctl=$build/asan/powerctl
[ -x "$ctl" ] || ctl=$build/powerctl
[ -x "$ctl" ] || { echo "no powerctl in $build/asan or $build"; exit 1; }

tmp=$(mktemp -d /tmp/powerd-ctl-XXXXXX) || exit 1
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

# $1: expected exit status; the rest: powerctl's arguments.
run() {
	want=$1
	shift
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "powerctl $* exited $rc, expected $want; stderr: $(cat "$tmp/err")"
}

not_running() {
	run 1 -s "$1" status
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$tmp/err")"
	grep -q "^powerctl: powerd is not running (cannot connect to $1: $2)\$" "$tmp/err" ||
		fail "unexpected message: $(cat "$tmp/err")"
	[ ! -s "$tmp/out" ] || fail "unexpected output: $(cat "$tmp/out")"
}

not_running /nonexistent/x.sock "No such file or directory"
run 1 -s /nonexistent/x.sock status --json
grep -q "not running" "$tmp/err" || fail "--json: $(cat "$tmp/err")"

run 2 bogus
grep -q "unknown command 'bogus'" "$tmp/err" || fail "bogus: $(cat "$tmp/err")"
run 2
run 2 status extra
run 2 --no-such-option status
run 2 -s
run 0 --help
grep -q "^usage: powerctl" "$tmp/out" || fail "--help prints no usage"
run 0 --version
grep -q "^powerctl [0-9]" "$tmp/out" || fail "--version: $(cat "$tmp/out")"

if ! command -v python3 >/dev/null 2>&1; then
	echo "python3 not found: stale-socket and answer checks skipped"
	exit 0
fi

# A socket file nobody listens on: what a crashed powerd leaves behind.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/stale.sock" ||
	fail "cannot create a socket file"
not_running "$tmp/stale.sock" "Connection refused"

# The stand-in server answers every request with the current body file.
cat >"$tmp/server.py" <<'PY'
import socket, sys
path, body_file = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(4096)
        if not d:
            break
        req += d
    body = open(body_file, "rb").read()
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c.close()
PY
sock=$tmp/powerd.sock
printf '{"daemon": {"version": "0.1.0"' >"$tmp/body"
python3 "$tmp/server.py" "$sock" "$tmp/body" &
server=$!
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "stand-in server did not start"
	sleep 0.05
done

run 1 -s "$sock" status
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "malformed" "$tmp/err" ||
	fail "truncated JSON: $(cat "$tmp/err")"
run 0 -s "$sock" status --json
[ "$(cat "$tmp/out")" = '{"daemon": {"version": "0.1.0"' ] || fail "--json altered the answer"

printf '{"daemon": {}, "sources": 3}' >"$tmp/body"
run 1 -s "$sock" status
grep -q "malformed" "$tmp/err" || fail "sources not an array: $(cat "$tmp/err")"

cat >"$tmp/body" <<'JSON'
{"daemon":{"version":"0.1.0","config":"/etc/powerd/powerd.conf","uptime_s":3725},
 "sources":[
  {"name":"house","kind":"pulse","state":"ok","detail":"gpiochip0 line 17","samples":12345678,
   "errors":{"open":0,"events_lost":0},"power_w":1234.56,"energy_wh":12345.6784,
   "last_flash_age_s":3.21,"flashes":12345678,"glitches":0,"events_lost":0,"summary":"ok"},
  {"name":"heatpump","kind":"pulse","state":"ok","detail":"x","samples":0,
   "errors":{"open":1,"events_lost":1},"power_w":null,"energy_wh":0,"last_flash_age_s":null,
   "flashes":0,"glitches":3,"events_lost":1,"summary":"waiting\u001b[31m for the second flash"},
  {"name":"pp1","kind":"json","state":"backlog","detail":"412 of 8640 files","samples":4532,
   "errors":{"not_json":1}}],
 "rings":[{"name":"edges","capacity":4096,"used":0,"dropped":2}],
 "sinks":[]}
JSON
run 0 -s "$sock" status
expect() {
	grep -q -- "$1" "$tmp/out" || fail "no line matching '$1' in:
$(cat "$tmp/out")"
}
expect '^NAME  *KIND  *POWER  *ENERGY  *LAST FLASH  *SAMPLES  *FLASHES  *GLITCHES  *ERRORS  *STATE$'
expect '^house  *pulse  *1234.6 W  *12.346 kWh  *3.2s ago  *12345678  *12345678  *0  *0  *ok$'
expect '^heatpump  *pulse  *-  *0.000 kWh  *never  *0  *0  *3  *2  *waiting?\[31m for the second flash$'
expect '^pp1  *json  *-  *-  *-  *4532  *-  *-  *1  *backlog: 412 of 8640 files$'
expect '^edges  *4096  *0  *2$'
expect '^powerd 0.1.0, up 1h02m, config /etc/powerd/powerd.conf$'
# Aligned: the header and both rows put ENERGY's last character in one column.
awk '/^NAME / { print index($0, "ENERGY") + 6 }
     /^(house|heatpump) / { print index($0, "kWh") + 3 }' "$tmp/out" |
	sort -u | wc -l | grep -qx 1 || fail "ENERGY column not aligned:
$(cat "$tmp/out")"
exit 0
