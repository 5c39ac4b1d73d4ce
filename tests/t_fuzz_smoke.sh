#!/bin/bash
# Every libFuzzer target builds and runs its seed corpus clean for a second:
# `make fuzz` is separate and long, and a target that no longer builds would
# otherwise go unnoticed until someone runs it.  Two targets run at a time
# (run.sh holds back each one's output and prints it whole): a second of
# fuzzing needs no core to itself, and CI time is short.
set -u
B=${1:-build}
command -v clang >/dev/null || { echo "clang not installed"; exit 77; }
FUZZ_JOBS=${FUZZ_JOBS:-2} tests/fuzz/run.sh "$B/fuzz-smoke" 1
