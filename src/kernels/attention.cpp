#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/attention_score.h"
#include "kernels/isa.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels {

#if LOOM_KERNELS_HAVE_AVX2
namespace avx2 {
void attend_heads(const float* q, int64_t q_stride, int64_t n_heads, const KvView& kv, int64_t n_kv,
                  int64_t head_dim, const AttentionParams* params, float* out, int64_t out_stride);
}  // namespace avx2
namespace avx512 {
// Head sizes (and, for a Q8_0 cache, offsets) that are multiples of 16.
void attend_heads(const float* q, int64_t q_stride, int64_t n_heads, const KvView& kv, int64_t n_kv,
                  int64_t head_dim, const AttentionParams* params, float* out, int64_t out_stride);
}  // namespace avx512
#endif

namespace ref {
namespace {

constexpr int kLanes = 16;  // ggml's AVX-512 vector: 16 floats
constexpr int kStep = 64;   // 4 vectors per step

inline float round_to(DType type, float x) {
  return type == DType::F16 ? fp16_to_fp32(fp32_to_fp16(x)) : x;
}

// Element `index` of a cached row.
inline float load(const uint8_t* row, DType type, int64_t index) {
  if (type == DType::F16) return fp16_to_fp32(reinterpret_cast<const uint16_t*>(row)[index]);
  if (type == DType::Q8_0) {
    const uint8_t* block = row + index / kQK8_0 * sizeof(BlockQ8_0);
    uint16_t scale;
    std::memcpy(&scale, block, sizeof(scale));
    const auto q = static_cast<int8_t>(block[sizeof(scale) + index % kQK8_0]);
    return fp16_to_fp32(scale) * static_cast<float>(q);
  }
  return reinterpret_cast<const float*>(row)[index];
}

}  // namespace

float dot_ggml_order(const float* x, const float* y, int64_t n) {
  const int64_t np = n / kStep * kStep;
  double sum = 0;
  if (np > 0) {
    float acc[4][kLanes] = {};
    for (int64_t i = 0; i < np; i += kStep) {
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < kLanes; ++l) {
          const int64_t k = i + j * kLanes + l;
          acc[j][l] = std::fma(x[k], y[k], acc[j][l]);
        }
      }
    }
    float combined[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      combined[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    }
    sum = detail::scalar::reduce16(combined);
  }
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

void attend_head(const float* q_in, const KvView& kv, int64_t n_kv, int64_t head_dim,
                 const AttentionParams& params, float* out) {
  using detail::kKeyTile;
  float q[kMaxHeadDim], key[kMaxHeadDim], acc[kMaxHeadDim];
  for (int64_t d = 0; d < head_dim; ++d) {
    q[d] = round_to(kv.type, q_in[d]);
    acc[d] = 0.0f;
  }
  const int64_t row_bytes = loom::row_bytes(kv.type, kv.row_stride);
  float max_score = -INFINITY;
  float sum = 0.0f;
  const detail::ScoreAdjust adjust(params, n_kv);
  float score[kKeyTile], x[kKeyTile];
  for (int64_t j0 = adjust.first; j0 < n_kv; j0 += kKeyTile) {
    const int64_t n_tile = std::min(kKeyTile, n_kv - j0);
    for (int64_t i = 0; i < n_tile; ++i) {
      const uint8_t* key_row = kv.keys + detail::row_offset(kv, j0 + i, row_bytes);
      for (int64_t d = 0; d < head_dim; ++d) key[d] = load(key_row, kv.type, kv.offset + d);
      score[i] = adjust(dot_ggml_order(q, key, head_dim), j0 + i);
    }
    const uint32_t raises = detail::softmax_steps(score, n_tile, max_score, x);
    for (int64_t i = 0; i < n_tile; ++i) {
      const uint8_t* value_row = kv.values + detail::row_offset(kv, j0 + i, row_bytes);
      // Online softmax: rescale what was accumulated when a new maximum appears.
      const float e = detail::softmax_weight(x[i]);
      const bool raise = (raises >> i) & 1;
      const float weight = raise ? 1.0f : e;
      if (raise) {
        for (int64_t d = 0; d < head_dim; ++d) acc[d] = round_to(kv.type, acc[d] * e);
      }
      for (int64_t d = 0; d < head_dim; ++d) {
        acc[d] =
            round_to(kv.type, std::fma(load(value_row, kv.type, kv.offset + d), weight, acc[d]));
      }
      sum = detail::softmax_sum_step(sum, raise, e);
    }
  }
  const float inv_sum = sum == 0.0f ? 0.0f : 1.0f / sum;
  for (int64_t d = 0; d < head_dim; ++d) out[d] = acc[d] * inv_sum;
}

}  // namespace ref

float alibi_slope(int64_t head, int64_t n_head, float max_bias) {
  if (max_bias <= 0.0f) return 0.0f;
  const auto n_head_log2 = static_cast<int64_t>(1)
                           << static_cast<int>(std::floor(std::log2(n_head)));
  const float m0 = std::pow(2.0f, -max_bias / static_cast<float>(n_head_log2));
  const float m1 = std::pow(2.0f, -(max_bias / 2.0f) / static_cast<float>(n_head_log2));
  return head < n_head_log2 ? std::pow(m0, static_cast<float>(head + 1))
                            : std::pow(m1, static_cast<float>(2 * (head - n_head_log2) + 1));
}

void attend_heads(const float* q, int64_t q_stride, int64_t n_heads, const KvView& kv, int64_t n_kv,
                  int64_t head_dim, const AttentionParams* params, float* out, int64_t out_stride) {
  if (head_dim > kMaxHeadDim) fail("head size {} exceeds the supported {}", head_dim, kMaxHeadDim);
  for (int64_t g = 1; g < n_heads; ++g) {
    if (params[g].first != params[0].first) fail("heads attended together see different windows");
  }
  for (int64_t g0 = 0; g0 < n_heads; g0 += detail::kMaxGroup) {
    const int64_t n = std::min(detail::kMaxGroup, n_heads - g0);
    const float* qg = q + g0 * q_stride;
    float* outg = out + g0 * out_stride;
#if LOOM_KERNELS_HAVE_AVX2
    if (active_isa() >= Isa::kAvx512 && head_dim % 16 == 0 && kv.offset % 16 == 0) {
      avx512::attend_heads(qg, q_stride, n, kv, n_kv, head_dim, params + g0, outg, out_stride);
      continue;
    }
    if (active_isa() >= Isa::kAvx2 && head_dim % 8 == 0) {
      avx2::attend_heads(qg, q_stride, n, kv, n_kv, head_dim, params + g0, outg, out_stride);
      continue;
    }
#endif
    for (int64_t g = 0; g < n; ++g) {
      ref::attend_head(qg + g * q_stride, kv, n_kv, head_dim, params[g0 + g],
                       outg + g * out_stride);
    }
  }
}

void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim,
                 const AttentionParams& params, float* out) {
  attend_heads(q, head_dim, 1, kv, n_kv, head_dim, &params, out, head_dim);
}

}  // namespace loom::kernels
