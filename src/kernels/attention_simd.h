// Private to attention_avx2.cpp and attention_avx512.cpp, each compiled for its own
// instruction set: ref::attend_head's online softmax (the reference engine's CPU flash
// attention step) over vectors of Ops::kLanes floats, written once for both widths, for a
// group of query heads that share a KV head. Keys come in tiles of kKeyTile: the tile's
// scores, its softmax steps and one vector exp, then the values one key at a time in the
// reference's order. Every vector operation is lane-wise and the per-key scalars come
// from the same code as the scalar path's, so the result is the scalar one bit for bit.
//
// Ops is a struct of static functions on its vector type Ops::Vec:
//   zero(), set1(f), load(p) / store(p, v) (64-byte aligned), loadu(p) / storeu(p, v),
//   mul(a, b), fmadd(a, b, c) = a * b + c rounded once,
//   softmax_weight(v): detail::softmax_weight lane for lane,
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

// acc[g][0, kVecs * kLanes) for every head g of the group, over the n keys of a tile, from
// element `index` of each value row, in the reference's order: per key, a head whose
// maximum the key raised first scales its accumulator by e (rounded to the cache type),
// then every head adds weight * v (rounded). The key's value vectors are read once for
// all heads, and the heads' chains are independent, so their latencies overlap.
template <typename Ops, DType kType, int kVecs>
inline void accumulate_values(float (*acc)[kMaxHeadDim], int64_t n_heads,
                              const uint8_t* const* rows, int64_t n, const float (*e)[kKeyTile],
                              const uint32_t* raises, int64_t d, int64_t index) {
  constexpr int kLanes = Ops::kLanes;
  for (int64_t i = 0; i < n; ++i) {
    typename Ops::Vec v[kVecs];
    for (int k = 0; k < kVecs; ++k) v[k] = Ops::template row<kType>(rows[i], index + k * kLanes);
    for (int64_t g = 0; g < n_heads; ++g) {
      float* a = acc[g] + d;
      const bool raise = (raises[g] >> i) & 1;
      const auto weight = Ops::set1(raise ? 1.0f : e[g][i]);
      if (raise) {
        const auto scale = Ops::set1(e[g][i]);
        for (int k = 0; k < kVecs; ++k) {
          Ops::store(a + k * kLanes,
                     Ops::template round<kType>(Ops::mul(Ops::load(a + k * kLanes), scale)));
        }
      }
      for (int k = 0; k < kVecs; ++k) {
        Ops::store(a + k * kLanes,
                   Ops::template round<kType>(Ops::fmadd(v[k], weight, Ops::load(a + k * kLanes))));
      }
    }
  }
}

// ref::attend_head for each of n_heads (<= kMaxGroup) query heads that read the same cache
// slice: head g's query at q_in + g * q_stride, its output at out + g * out_stride.
template <typename Ops, DType kType>
void attend_group(const float* q_in, int64_t q_stride, int64_t n_heads, const KvView& kv,
                  int64_t n_kv, int64_t head_dim, const AttentionParams* params, float* out,
                  int64_t out_stride) {
  constexpr int kLanes = Ops::kLanes;
  alignas(64) float q[kMaxGroup][kMaxHeadDim];
  alignas(64) float acc[kMaxGroup][kMaxHeadDim];
  float max_score[kMaxGroup], sum[kMaxGroup];
  for (int64_t g = 0; g < n_heads; ++g) {
    for (int64_t d = 0; d < head_dim; d += kLanes) {
      Ops::store(q[g] + d, Ops::template round<kType>(Ops::loadu(q_in + g * q_stride + d)));
      Ops::store(acc[g] + d, Ops::zero());
    }
    max_score[g] = -INFINITY;
    sum[g] = 0.0f;
  }
  const int64_t row_bytes = loom::row_bytes(kType, kv.row_stride);
  alignas(64) float score[kKeyTile], x[kKeyTile];
  alignas(64) float e[kMaxGroup][kKeyTile];
  uint32_t raises[kMaxGroup];
  const uint8_t* key_rows[kKeyTile];
  const uint8_t* value_rows[kKeyTile];
  for (int64_t j0 = ScoreAdjust(params[0], n_kv).first; j0 < n_kv; j0 += kKeyTile) {
    const int64_t n_tile = std::min(kKeyTile, n_kv - j0);
    for (int64_t i = 0; i < n_tile; ++i) {
      const int64_t at = row_offset(kv, j0 + i, row_bytes);
      key_rows[i] = kv.keys + at;
      value_rows[i] = kv.values + at;
    }
    for (int64_t g = 0; g < n_heads; ++g) {
      const ScoreAdjust adjust(params[g], n_kv);
      for (int64_t i = 0; i < n_tile; ++i) {
        score[i] = adjust(Ops::template dot<kType>(q[g], key_rows[i], kv.offset, head_dim), j0 + i);
      }
      raises[g] = softmax_steps(score, n_tile, max_score[g], x);
      for (int64_t i = 0; i < kKeyTile; i += kLanes) {
        Ops::store(e[g] + i, Ops::softmax_weight(Ops::load(x + i)));
      }
    }
    // Key by key, each head's sum: the heads' chains are independent and overlap.
    for (int64_t i = 0; i < n_tile; ++i) {
      for (int64_t g = 0; g < n_heads; ++g) {
        sum[g] = softmax_sum_step(sum[g], (raises[g] >> i) & 1, e[g][i]);
      }
    }
    // Four vectors of the head at a time.
    for (int64_t d = 0; d < head_dim; d += 4 * kLanes) {
      const int64_t index = kv.offset + d;
      switch (std::min<int64_t>(4, (head_dim - d) / kLanes)) {
        case 4:
          accumulate_values<Ops, kType, 4>(acc, n_heads, value_rows, n_tile, e, raises, d, index);
          break;
        case 3:
          accumulate_values<Ops, kType, 3>(acc, n_heads, value_rows, n_tile, e, raises, d, index);
          break;
        case 2:
          accumulate_values<Ops, kType, 2>(acc, n_heads, value_rows, n_tile, e, raises, d, index);
          break;
        default:
          accumulate_values<Ops, kType, 1>(acc, n_heads, value_rows, n_tile, e, raises, d, index);
      }
    }
  }
  for (int64_t g = 0; g < n_heads; ++g) {
    const auto inv_sum = Ops::set1(sum[g] == 0.0f ? 0.0f : 1.0f / sum[g]);
    for (int64_t d = 0; d < head_dim; d += kLanes) {
      Ops::storeu(out + g * out_stride + d, Ops::mul(Ops::load(acc[g] + d), inv_sum));
    }
  }
}

// attend_group for the cache type of kv.
template <typename Ops>
void attend_group_with(const float* q, int64_t q_stride, int64_t n_heads, const KvView& kv,
                       int64_t n_kv, int64_t head_dim, const AttentionParams* params, float* out,
                       int64_t out_stride) {
  switch (kv.type) {
    case DType::F16:
      return attend_group<Ops, DType::F16>(q, q_stride, n_heads, kv, n_kv, head_dim, params, out,
                                           out_stride);
    case DType::Q8_0:
      return attend_group<Ops, DType::Q8_0>(q, q_stride, n_heads, kv, n_kv, head_dim, params, out,
                                            out_stride);
    default:
      return attend_group<Ops, DType::F32>(q, q_stride, n_heads, kv, n_kv, head_dim, params, out,
                                           out_stride);
  }
}

}  // namespace loom::kernels::detail
