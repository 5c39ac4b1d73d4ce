#!/bin/bash
# Every C source follows .clang-format.
set -u
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
make --no-print-directory -s check-format
