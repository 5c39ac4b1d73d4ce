#!/bin/bash
# The whole tree builds warning-free (-Werror) with clang too: daemon, tools,
# unit tests and benches, into their own build directory.
set -u
B=${1:-build}
command -v clang >/dev/null || { echo "clang not installed"; exit 77; }
make --no-print-directory -s -j2 O="$B/clang" CC=clang all unit bench-bins
