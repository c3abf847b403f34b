// Private to attention_avx2.cpp and attention_avx512.cpp, each compiled for its own
// instruction set: ref::attend_head's online softmax (the reference engine's CPU flash
// attention step) over vectors of Ops::kLanes floats, written once for both widths.
// Every vector operation is lane-wise, so the result is the scalar one bit for bit.
//
// Ops is a struct of static functions on its vector type Ops::Vec:
//   zero(), set1(f), load(p) / store(p, v) (64-byte aligned), loadu(p) / storeu(p, v),
//   mul(a, b), fmadd(a, b, c) = a * b + c rounded once,
//   round<kType>(v): v rounded to the cache type and widened back (F16; others: v),
//   row<kType>(row, index): kLanes elements of a cached row from `index` on,
//   dot<kType>(q, key_row, offset, n): the score, summed in ggml's order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_score.h"

namespace loom::kernels::detail {

template <typename Ops, DType kType>
void attend_online(const float* q_in, const KvView& kv, int64_t n_kv, int64_t head_dim,
                   const AttentionParams& params, float* out) {
  constexpr int kLanes = Ops::kLanes;
  alignas(64) float q[kMaxHeadDim];
  alignas(64) float acc[kMaxHeadDim];
  for (int64_t d = 0; d < head_dim; d += kLanes) {
    Ops::store(q + d, Ops::template round<kType>(Ops::loadu(q_in + d)));
    Ops::store(acc + d, Ops::zero());
  }
  const int64_t row_bytes = loom::row_bytes(kType, kv.row_stride);
  float max_score = -INFINITY;
  float sum = 0.0f;
  const ScoreAdjust adjust(params, n_kv);
  for (int64_t j = adjust.first; j < n_kv;) {
    const int64_t block_offset = kv.blocks[j / kv.block_size] * kv.block_stride;
    const int64_t block_end = std::min(n_kv, (j / kv.block_size + 1) * kv.block_size);
    for (; j < block_end; ++j) {
      const int64_t r = j % kv.block_size;
      const uint8_t* key_row = kv.keys + block_offset + r * row_bytes;
      const uint8_t* value_row = kv.values + block_offset + r * row_bytes;
      const float score = adjust(Ops::template dot<kType>(q, key_row, kv.offset, head_dim), j);
      float old_scale = 1.0f;
      float weight = 1.0f;
      if (score > max_score) {
        old_scale = std::exp(max_score - score);
        max_score = score;
        const auto s = Ops::set1(old_scale);
        for (int64_t d = 0; d < head_dim; d += kLanes) {
          Ops::store(acc + d, Ops::template round<kType>(Ops::mul(Ops::load(acc + d), s)));
        }
      } else {
        weight = std::exp(score - max_score);
      }
      const auto w = Ops::set1(weight);
      for (int64_t d = 0; d < head_dim; d += kLanes) {
        const auto v = Ops::template row<kType>(value_row, kv.offset + d);
        Ops::store(acc + d, Ops::template round<kType>(Ops::fmadd(v, w, Ops::load(acc + d))));
      }
      sum = std::fma(sum, old_scale, weight);
    }
  }
  const auto inv_sum = Ops::set1(sum == 0.0f ? 0.0f : 1.0f / sum);
  for (int64_t d = 0; d < head_dim; d += kLanes) {
    Ops::storeu(out + d, Ops::mul(Ops::load(acc + d), inv_sum));
  }
}

// attend_online for the cache type of kv.
template <typename Ops>
void attend_head_with(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim,
                      const AttentionParams& params, float* out) {
  switch (kv.type) {
    case DType::F16:
      return attend_online<Ops, DType::F16>(q, kv, n_kv, head_dim, params, out);
    case DType::Q8_0:
      return attend_online<Ops, DType::Q8_0>(q, kv, n_kv, head_dim, params, out);
    default:
      return attend_online<Ops, DType::F32>(q, kv, n_kv, head_dim, params, out);
  }
}

}  // namespace loom::kernels::detail
