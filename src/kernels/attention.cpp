#include "kernels/attention.h"

#include <cmath>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/isa.h"
#include "kernels/matmul_kernels.h"

namespace loom::kernels {

#if LOOM_KERNELS_HAVE_AVX2
namespace avx2 {
void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim, float scale,
                 float* out);
}  // namespace avx2
#endif

namespace ref {
namespace {

constexpr int kLanes = 16;  // ggml's AVX-512 vector: 16 floats
constexpr int kStep = 64;   // 4 vectors per step

inline float round_to(DType type, float x) {
  return type == DType::F16 ? fp16_to_fp32(fp32_to_fp16(x)) : x;
}

inline float load(const void* base, DType type, int64_t index) {
  if (type == DType::F16) return fp16_to_fp32(static_cast<const uint16_t*>(base)[index]);
  return static_cast<const float*>(base)[index];
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

void attend_head(const float* q_in, const KvView& kv, int64_t n_kv, int64_t head_dim, float scale,
                 float* out) {
  float q[kMaxHeadDim], key[kMaxHeadDim], acc[kMaxHeadDim];
  for (int64_t d = 0; d < head_dim; ++d) {
    q[d] = round_to(kv.type, q_in[d]);
    acc[d] = 0.0f;
  }
  float max_score = -INFINITY;
  float sum = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    const int64_t row = j * kv.row_stride + kv.offset;
    for (int64_t d = 0; d < head_dim; ++d) key[d] = load(kv.keys, kv.type, row + d);
    const float score = dot_ggml_order(q, key, head_dim) * scale;
    // Online softmax: rescale what was accumulated when a new maximum appears.
    float old_scale = 1.0f;
    float weight = 1.0f;
    if (score > max_score) {
      old_scale = std::exp(max_score - score);
      max_score = score;
      for (int64_t d = 0; d < head_dim; ++d) acc[d] = round_to(kv.type, acc[d] * old_scale);
    } else {
      weight = std::exp(score - max_score);
    }
    for (int64_t d = 0; d < head_dim; ++d) {
      acc[d] = round_to(kv.type, std::fma(load(kv.values, kv.type, row + d), weight, acc[d]));
    }
    sum = std::fma(sum, old_scale, weight);
  }
  const float inv_sum = 1.0f / sum;
  for (int64_t d = 0; d < head_dim; ++d) out[d] = acc[d] * inv_sum;
}

}  // namespace ref

void attend_head(const float* q, const KvView& kv, int64_t n_kv, int64_t head_dim, float scale,
                 float* out) {
  if (head_dim > kMaxHeadDim) fail("head size {} exceeds the supported {}", head_dim, kMaxHeadDim);
#if LOOM_KERNELS_HAVE_AVX2
  if (active_isa() == Isa::kAvx2 && head_dim % 8 == 0) {
    avx2::attend_head(q, kv, n_kv, head_dim, scale, out);
    return;
  }
#endif
  ref::attend_head(q, kv, n_kv, head_dim, scale, out);
}

}  // namespace loom::kernels
