#!/bin/bash
# The CAN replay test again with the ThreadSanitizer build: the I/O thread
# replaying and decoding while the HTTP threads take the status, and a
# transmit request on the control socket.
B=${1:-build}
[ -x "$B/tsan/powerd" ] || { echo "skip: $B/tsan/powerd not built"; exit 77; }
PD=$B/tsan/powerd exec "$(dirname "$0")/t_can_replay.sh" "$B"
