#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) in build-fuzz/ and runs each:
# first every input in fuzz/regressions/<target>/ (inputs that once crashed), then fuzzing
# from the seed corpus fuzz/corpus/<target>/ (copied into build-fuzz/, so the repository's
# corpus stays as committed).
#   scripts/fuzz.sh                 the short run of the test command: a fixed number of
#                                   inputs per target from a fixed seed (reproducible)
#   scripts/fuzz.sh --seconds 600   a long run: each target for 600 s, in parallel on every core
#   scripts/fuzz.sh ... fuzz_gbnf   only the targets named
# A crash leaves its input in build-fuzz/crashes/<target>/ and fails the script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="${LOOM_SHARED_DIR:-$root/../shared}"
build="$root/build-fuzz"
runs=3000
seconds=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] &&
  targets=(fuzz_gguf fuzz_tokenizer fuzz_jinja fuzz_gbnf fuzz_json_schema fuzz_openai_request)

CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOOM_FUZZ=ON -DLOOM_BUILD_TESTS=OFF -DLOOM_BUILD_BENCH=OFF -DLOOM_SHARED_DIR="$shared" >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
fuzz_one() {
  local t=$1
  local corpus="$build/corpus/$t" crashes="$build/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  cp -n "$root/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  if [ -d "$root/fuzz/regressions/$t" ] && [ -n "$(ls -A "$root/fuzz/regressions/$t")" ]; then
    "$build/fuzz/$t" "$root/fuzz/regressions/$t/"* >"$build/$t.regressions.log" 2>&1 ||
      { echo "fuzz: $t fails a regression input (see $build/$t.regressions.log)"; return 1; }
  fi
  local limit=(-seed=1 -runs="$runs")
  [ "$seconds" -gt 0 ] && limit=(-max_total_time="$seconds")
  if "$build/fuzz/$t" "${limit[@]}" -max_len=4096 -timeout=20 -rss_limit_mb=2048 \
       -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" >"$build/$t.log" 2>&1; then
    echo "fuzz: $t ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build/$t.log" |
      grep -o '[0-9]*$') inputs, corpus $(ls "$corpus" | wc -l))"
  else
    echo "fuzz: $t FAILED (log: $build/$t.log, input in $crashes/)"
    tail -40 "$build/$t.log"
    return 1
  fi
}

status=0
if [ "$seconds" -gt 0 ]; then
  # Long runs: the targets in parallel, one per core at a time.
  jobs_max=$(nproc)
  for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || status=1; done
    fuzz_one "$t" &
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
else
  for t in "${targets[@]}"; do fuzz_one "$t" || status=1; done
fi
exit $status
