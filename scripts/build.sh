#!/usr/bin/env bash
# Builds loom in Release into build/ (the binary is build/src/cli/loom).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLOOM_SHARED_DIR="${LOOM_SHARED_DIR:-$root/../shared}" >/dev/null
cmake --build "$root/build" --parallel "$(nproc)"
