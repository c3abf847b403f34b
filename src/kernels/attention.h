// Scaled dot-product attention of one query head over one sequence's cached keys and
// values (causal masking is the caller's choice of n_kv). Keys and values are rows of
// `row_stride` elements (F16 or F32); the head's slice starts at element `offset`.
//
// The arithmetic follows the reference engine's CPU flash attention step for step, so
// that loom's logits agree with it to ~1e-3: the query is rounded to the cache type, each
// score is a dot product summed in ggml's order (16-lane partial sums over blocks of 64,
// then the rest in double), the softmax is computed online, and with an F16 cache the
// weighted sum of values is accumulated in F16.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace loom::kernels {

struct KvView {
  const void* keys = nullptr;    // (n_kv, row_stride) of `type`
  const void* values = nullptr;  // (n_kv, row_stride) of `type`
  DType type = DType::F16;
  int64_t row_stride = 0;  // elements per cached position (n_head_kv * head_dim)
  int64_t offset = 0;      // first element of this head's slice in a row
};

// Largest head size supported (the query and accumulator live on the stack).
constexpr int64_t kMaxHeadDim = 512;

// out[d] = sum_j softmax_j(scale * q.k_j) * v_j[d] over j < n_kv.
// q: (head_dim) f32; out: (head_dim) f32. head_dim <= kMaxHeadDim.
void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim, float scale,
                 float* out);

namespace ref {
void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim, float scale,
                 float* out);
// ggml's dot-product order (see above) for f32 operands, as used for scores.
float dot_ggml_order(const float* x, const float* y, int64_t n);
}  // namespace ref

}  // namespace loom::kernels
