// Scalar references of ops.h, written to round as ggml's CPU ops do (the engine's logits
// are checked against llama.cpp's).
#include <cmath>

#include "kernels/ops.h"

namespace loom::kernels::ref {

// ggml_compute_forward_rms_norm_f32 followed by ggml_mul: squares in f32 summed in double,
// the mean narrowed to f32, out = (x * scale) * weight.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

// ggml_vec_soft_max_f32: exponentials of x - max summed in double, then scaled by the
// f32 reciprocal of the sum.
void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  const auto scale = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

float expf_ggml(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

// silu(g) = g / (1 + e^-g), as ggml_silu_f32 with libm's expf.
void swiglu_tail(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

// ggml_vec_swiglu_f32 of the reference engine's AVX-512 build: blocks of 16 use its
// vectorised exponential, the rest libm's.
void swiglu(float* gate, const float* up, int64_t n) {
  const int64_t blocked = n / 16 * 16;
  for (int64_t i = 0; i < blocked; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf_ggml(0.0f - g)) * up[i];
  }
  swiglu_tail(gate + blocked, up + blocked, n - blocked);
}

}  // namespace loom::kernels::ref
