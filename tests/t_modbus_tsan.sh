#!/bin/bash
# The Modbus TCP test again with the ThreadSanitizer build: 32 connections
# on the I/O thread while the HTTP threads take the status and hand writes
# over to it (the write's lock, condition variable and eventfd).
B=${1:-build}
[ -x "$B/tsan/powerd" ] || { echo "skip: $B/tsan/powerd not built"; exit 77; }
PD=$B/tsan/powerd exec "$(dirname "$0")/t_modbus_tcp.sh" "$B"
