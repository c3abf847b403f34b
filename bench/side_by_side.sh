#!/usr/bin/env bash
# Speed of loom beside the reference engine's llama-bench, on the same files in the
# same minutes: the two run alternately, round after round, and the table gives the
# median of each and their ratio. The machine is noisy; alternating keeps the noise fair.
#
#   bench/side_by_side.sh -b /path/to/llama.cpp/build/bin [-r ROUNDS] [-p 64] [-n 32]
#                         [-t 2] [--loom build/src/cli/loom] MODEL.gguf...
#
# Set LOOM_KERNELS_ISA=avx2 in the environment to measure loom's AVX2 kernels; the
# reference is then run as it was built (build it with GGML_NATIVE=OFF GGML_AVX512=OFF
# for a fair AVX2 comparison).
set -euo pipefail

rounds=3 prompt=64 gen=32 threads=2 loom=build/src/cli/loom refbin=""
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -b) refbin=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -p) prompt=$2; shift 2 ;;
    -n) gen=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    --loom) loom=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) models+=("$1"); shift ;;
  esac
done
if [[ -z "$refbin" || ! -x "$refbin/llama-bench" ]]; then
  echo "side_by_side: give the reference's bin folder with -b (it must hold llama-bench)" >&2
  exit 2
fi
[[ ${#models[@]} -gt 0 ]] || { echo "side_by_side: give at least one model" >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((round = 1; round <= rounds; round++)); do
  for model in "${models[@]}"; do
    for test in "pp:$prompt" "tg:$gen"; do
      kind=${test%%:*} size=${test##*:}
      [[ $size -gt 0 ]] || continue
      p=0 n=0
      [[ $kind == pp ]] && p=$size || n=$size
      loom_ts=$("$loom" bench -m "$model" -p "$p" -n "$n" -t "$threads" -r 1 -o csv 2>/dev/null |
        awk -F, 'NR == 2 { print $9 }')
      ref_ts=$(LD_LIBRARY_PATH="$refbin" "$refbin/llama-bench" -m "$model" -p "$p" -n "$n" \
        -t "$threads" -r 1 -o csv 2>/dev/null | awk -F, 'NR == 2 { gsub(/"/, ""); print $(NF-1) }')
      echo "$(basename "$model") $kind$size $loom_ts $ref_ts" >>"$out"
      echo "round $round: $(basename "$model") $kind$size loom $loom_ts ref $ref_ts" >&2
    done
  done
done

echo "| model | test | loom t/s (median of $rounds) | reference t/s | ratio |"
echo "|---|---|---|---|---|"
awk '
  { key = $1 " " $2; if (!(key in seen)) { order[++n] = key; seen[key] = 1 }
    loom[key] = loom[key] " " $3; ref[key] = ref[key] " " $4 }
  function median(list,   v, k, i, j, t) {
    k = split(list, v, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  }
  END { for (i = 1; i <= n; i++) { key = order[i]; split(key, f, " ")
          l = median(loom[key]); r = median(ref[key])
          printf "| %s | %s | %.1f | %.1f | %.2fx |\n", f[1], f[2], l, r, l / r } }' "$out"
