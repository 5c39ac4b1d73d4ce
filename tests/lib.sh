# Shared helpers for the shell tests (sourced).
# shellcheck shell=bash

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# free_ports N: the first of N consecutive free loopback ports (for
# tests/modbus_server, one device per port); empty if none was found.
free_ports() {
	python3 -c '
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base, held = random.randint(20000, 60000 - n), []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            held.append(s)
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(base)
    break' "$1"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# metric NAME_WITH_LABELS URL: the sample's value, or empty
metric() {
	curl -fsS "$2" | awk -v m="$1" '$1 == m { print $2 }'
}

# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# json_get JSON_TEXT PYTHON_EXPR (with d = the parsed document)
json_get() {
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
