#!/bin/bash
# The end-to-end daemon test again, with the ThreadSanitizer build: the I/O,
# meter and HTTP threads under load, a reload, a restart.
VARIANT=tsan exec "$(dirname "$0")/t_daemon.sh" "$@"
