#!/bin/bash
# Every libFuzzer target builds and runs its seed corpus clean for a second:
# `make fuzz` is separate and long, and a target that no longer builds would
# otherwise go unnoticed until someone runs it.
set -u
B=${1:-build}
command -v clang >/dev/null || { echo "clang not installed"; exit 77; }
tests/fuzz/run.sh "$B/fuzz-smoke" 1
