#!/usr/bin/env bash
# Structured output on a model: every JSON Schema and GBNF grammar in tests/grammar/data
# sampled at temperature 1.0, each sample with its own seed; every reply that ends must
# validate with python3-jsonschema or the grammar's Python parser. Replies cut by
# --max-tokens are reported apart (see tests/grammar/check_structured.cpp).
#
#   scripts/check-structured.sh [--build DIR] MODEL.gguf [check_structured options]
#   scripts/check-structured.sh [--build DIR] --synth SHAPE TYPE TOKENIZER [options]
#
# --synth writes a benchmark model with `loom synth` (e.g. tiny f16 with a ggml-vocab
# GGUF or a tokenizer.json) into a temporary directory, checks it, and deletes it.
# Options after the model go to check_structured: --samples N (4) --max-tokens N (256)
# --seed N --threads N --only SUBSTRING --min-complete N --keep DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOOM_BUILD_DIR:-$root/build}
if [ "${1:-}" = "--build" ]; then
  build=$2
  shift 2
fi
check="$build/tests/grammar/check_structured"
loom="$build/src/cli/loom"
[ -x "$check" ] || { echo "check-structured: $check is not built" >&2; exit 2; }

tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT
if [ "${1:-}" = "--synth" ]; then
  [ $# -ge 4 ] || { echo "check-structured: --synth SHAPE TYPE TOKENIZER" >&2; exit 2; }
  [ -x "$loom" ] || { echo "check-structured: $loom is not built" >&2; exit 2; }
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/loom_check_structured.XXXXXX")
  model="$tmp/synth-$2-$3.gguf"
  "$loom" synth --shape "$2" --type "$3" --tokenizer "$4" -o "$model" 2>"$tmp/synth.log" ||
    { cat "$tmp/synth.log" >&2; exit 1; }
  shift 4
else
  [ $# -ge 1 ] || { echo "usage: check-structured.sh [--build DIR] MODEL.gguf|--synth SHAPE TYPE TOKENIZER [options]" >&2; exit 2; }
  model=$1
  shift
fi
"$check" --model "$model" --data "$root/tests/grammar/data" "$@"
