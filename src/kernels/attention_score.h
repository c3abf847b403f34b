// Private to the attention kernels: what AttentionParams does to one raw score q.k_j, and
// the softmax's running maximum and sum over tiles of keys, written once so that the
// scalar and SIMD paths do both identically.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/exp_double.h"
#include "kernels/ops.h"

namespace loom::kernels::detail {

class ScoreAdjust {
 public:
  ScoreAdjust(const AttentionParams& p, int64_t n_kv)
      : first(std::max<int64_t>(0, p.first)),
        scale_(p.softcap != 0.0f ? p.scale / p.softcap : p.scale),
        softcap_(p.softcap),
        slope_(p.alibi_slope),
        query_pos_(n_kv - 1) {}

  // As the reference's flash attention: scale (folded with 1 / softcap), cap, then the
  // ALiBi bias slope * -(distance).
  float operator()(float dot, int64_t j) const {
    float s = dot * scale_;
    if (softcap_ != 0.0f) s = softcap_ * ref::tanh_f32(s);
    if (slope_ != 0.0f) s += slope_ * -static_cast<float>(query_pos_ - j);
    return s;
  }

  const int64_t first;

 private:
  float scale_, softcap_, slope_;
  int64_t query_pos_;
};

// Query heads attended together at most (one GQA group, or a slice of it): their queries
// and accumulators live on the stack.
inline constexpr int64_t kMaxGroup = kHeadsAttendedAtOnce;

// Keys are taken in tiles of this many: their scores, then one vector exp for the tile.
inline constexpr int64_t kKeyTile = 16;

// A softmax factor e^x for x <= 0 (libm's expf, see exp_double.h), 0 where it would
// round to 0 (and for -inf or NaN).
inline float softmax_weight(float x) {
  return x >= exp_double::kFloor ? exp_via_double(x) : 0.0f;
}

// Byte offset of position j's row from kv.keys (and kv.values) in the paged cache.
inline int64_t row_offset(const KvView& kv, int64_t j, int64_t row_bytes) {
  return kv.blocks[j / kv.block_size] * kv.block_stride + (j % kv.block_size) * row_bytes;
}

// The reference engine's online softmax, one key at a time: a key whose score exceeds the
// running maximum becomes the maximum, what was accumulated is scaled by
// e^(old max - score) and the key's weight is 1; any other key weighs e^(score - max).
// For a tile of n scores this finds, in that order, the exponent each key needs (x[i],
// -inf past n so that the tile's exp is one vector operation) and returns the mask of
// keys that raise the maximum; `max` is updated.
inline uint32_t softmax_steps(const float* score, int64_t n, float& max, float* x) {
  uint32_t raises = 0;
  for (int64_t i = 0; i < kKeyTile; ++i) {
    if (i >= n) {
      x[i] = -INFINITY;
    } else if (score[i] > max) {
      x[i] = max - score[i];
      max = score[i];
      raises |= 1u << i;
    } else {
      x[i] = score[i] - max;
    }
  }
  return raises;
}

// The running sum of weights after key i of a tile, given e = softmax_weight(x[i]).
inline float softmax_sum_step(float sum, bool raises, float e) {
  return raises ? std::fma(sum, e, 1.0f) : std::fma(sum, 1.0f, e);
}

}  // namespace loom::kernels::detail
