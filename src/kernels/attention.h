// Scaled dot-product attention of one query head over one sequence's cached keys and
// values (causal masking is the caller's choice of n_kv). The cache is paged: rows live
// in fixed-size blocks reached through a block table (see KvView); each row holds
// `row_stride` elements (F16, F32 or Q8_0) and the head's slice starts at element `offset`.
//
// The arithmetic follows the reference engine's CPU flash attention step for step, so
// that loom's logits agree with it to ~1e-3: the query is rounded to the cache type, each
// score is a dot product summed in ggml's order (16-lane partial sums over blocks of 64,
// then the rest in double), the softmax is computed online (its exponentials a tile of 16
// keys at a time by a vector exp that rounds as libm's expf does, exp_double.h), and with
// an F16 cache the weighted sum of values is accumulated in F16. A Q8_0 cache is read as
// F32 (each element its block's scale times its int8) and follows the F32 arithmetic.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace loom::kernels {

// One sequence's rows of one layer. Position j is row j % block_size of block
// blocks[j / block_size]; block b's key rows start at keys + b * block_stride bytes (its
// value rows at values + b * block_stride), one row every row_bytes(type, row_stride)
// bytes. A contiguous (n_kv, row_stride) array is one block: blocks = {0}, block_size >= n_kv.
struct KvView {
  const uint8_t* keys = nullptr;
  const uint8_t* values = nullptr;
  const int32_t* blocks = nullptr;  // (ceil(n_kv / block_size)) block ids
  int64_t block_size = 0;           // positions per block
  int64_t block_stride = 0;         // bytes from one block to the next
  DType type = DType::F16;          // F16, F32 or Q8_0 (row_stride a multiple of 32)
  int64_t row_stride = 0;           // elements per cached position (n_head_kv * head_dim)
  int64_t offset = 0;               // first element of this head's slice in a row
};

// What a model adds to plain scaled dot-product attention, applied to each score s of key
// j for the query at position n_kv - 1, in the reference engine's order:
//   s = scale * q.k_j; with softcap: s = softcap * tanh(s / softcap); s -= alibi_slope * (n_kv-1-j)
// and only keys j >= first are seen (a sliding window of n: first = n_kv - n).
struct AttentionParams {
  float scale = 1.0f;
  float softcap = 0.0f;      // 0: none
  float alibi_slope = 0.0f;  // 0: no ALiBi
  int64_t first = 0;         // first visible position
};

// ALiBi slope of head h of n_head for a maximum bias (ggml's m0 / m1 rule, which handles
// head counts that are not powers of two).
float alibi_slope(int64_t head, int64_t n_head, float max_bias);

// Largest head size supported (the query and accumulator live on the stack).
constexpr int64_t kMaxHeadDim = 512;

// out[d] = sum_j softmax_j(scale * q.k_j) * v_j[d] over j < n_kv.
// q: (head_dim) f32; out: (head_dim) f32. head_dim <= kMaxHeadDim. With a Q8_0 cache the
// AVX2 path also needs offset to be a multiple of 8 (true when head_dim is).
void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim,
                 const AttentionParams& params, float* out);
inline void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim,
                        float scale, float* out) {
  attend_head(q, kv, n_kv, head_dim, AttentionParams{.scale = scale}, out);
}

// Query heads attend_heads computes together at most; it takes more in passes of this many.
inline constexpr int64_t kHeadsAttendedAtOnce = 8;

// attend_head for n_heads query heads that read the same cache slice (a GQA group): head
// g's query at q + g * q_stride, its output at out + g * out_stride, its parameters
// params[g] (ALiBi slopes may differ; `first` must not). Each head's result is
// attend_head's bit for bit; together the heads share every key and value row read and
// hide each other's latencies.
void attend_heads(const float* q, int64_t q_stride, int64_t n_heads, const KvView& kv, int64_t n_kv,
                  int64_t head_dim, const AttentionParams* params, float* out, int64_t out_stride);

namespace ref {
void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim,
                 const AttentionParams& params, float* out);
inline void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim,
                        float scale, float* out) {
  ref::attend_head(q, kv, n_kv, head_dim, AttentionParams{.scale = scale}, out);
}
// ggml's dot-product order (see above) for f32 operands, as used for scores.
float dot_ggml_order(const float* x, const float* y, int64_t n);
}  // namespace ref

}  // namespace loom::kernels
