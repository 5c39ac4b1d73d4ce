#!/bin/bash
# The EG4 test again with the ThreadSanitizer build: the I/O thread's
# connection, framing, polling and watchdog, the host given by name (the
# resolver's thread; its ::1 refused, 127.0.0.1 taken) while the HTTP threads
# take /metrics and /api/status.
B=${1:-build}
[ -x "$B/tsan/powerd" ] || { echo "skip: $B/tsan/powerd not built"; exit 77; }
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
EG4_HOST=localhost PD=$B/tsan/powerd exec "$(dirname "$0")/t_eg4.sh" "$B"
