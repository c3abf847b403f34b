// Scalar references of ops.h, written to round as ggml's CPU ops do (the engine's logits
// are checked against llama.cpp's).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <vector>

#include "core/fp16.h"
#include "kernels/ops.h"

namespace loom::kernels::ref {

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

namespace loom::kernels::ref {

namespace {

// The order in which every layernorm and rmsnorm path sums f32 values in double: value i
// goes to lane i % 16, then the lanes are folded in halves (l += l + 8, l += l + 4,
// l += l + 2, l += l + 1). Sixteen doubles are two zmm or four ymm registers, so the SIMD
// paths make exactly these additions; padding a partial vector with zeros adds nothing (a
// lane starts at +0 and never becomes -0).
constexpr int kSumLanes = 16;

double fold_lanes(double* lanes) {
  for (int width = kSumLanes / 2; width >= 1; width /= 2) {
    for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
  }
  return lanes[0];
}

}  // namespace

// ggml_compute_forward_rms_norm_f32 followed by ggml_mul: squares in f32 summed in double
// (in the lane order above, not ggml's sequential order), the mean narrowed to f32,
// out = (x * scale) * weight.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double lanes[kSumLanes] = {};
  for (int64_t i = 0; i < n; ++i) lanes[i % kSumLanes] += static_cast<double>(x[i] * x[i]);
  const auto mean = static_cast<float>(fold_lanes(lanes) / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

// ggml_compute_forward_norm_f32 then ggml_mul and ggml_add: mean and variance in double
// (summed in the lane order above, not ggml's sequential order: the two differ in the
// last bits of a double, which almost never survives narrowing to f32), each step
// rounded to f32 on its own.
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out) {
  double lanes[kSumLanes] = {};
  for (int64_t i = 0; i < n; ++i) lanes[i % kSumLanes] += static_cast<double>(x[i]);
  const auto mean = static_cast<float>(fold_lanes(lanes) / static_cast<double>(n));
  std::fill(std::begin(lanes), std::end(lanes), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - mean;
    lanes[i % kSumLanes] += static_cast<double>(d * d);
  }
  const auto variance = static_cast<float>(fold_lanes(lanes) / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = (x[i] - mean) * scale;
    if (weight != nullptr) v = v * weight[i];
    if (bias != nullptr) v = v + bias[i];
    out[i] = v;
  }
}

// 65536 entries and one more (0): a SIMD lookup gathers the 32-bit word at entry idx, whose
// upper half is entry idx + 1, so that word must exist for idx = 65535 too.
const uint16_t* gelu_table() {
  static const std::vector<uint16_t> table = [] {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoefA = 0.044715f;
    std::vector<uint16_t> t(65536 + 1, 0);
    for (uint32_t i = 0; i < 65536; ++i) {
      const float x = fp16_to_fp32(static_cast<uint16_t>(i));
      const float y = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x)));
      t[i] = fp32_to_fp16(y);
    }
    return t;
  }();
  return table.data();
}

namespace {
inline float gelu_one(float x, const uint16_t* table) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return fp16_to_fp32(table[fp32_to_fp16(x)]);
}
}  // namespace

void gelu(float* x, int64_t n) {
  const uint16_t* table = gelu_table();
  for (int64_t i = 0; i < n; ++i) x[i] = gelu_one(x[i], table);
}

void geglu(float* gate, const float* up, int64_t n) {
  const uint16_t* table = gelu_table();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g <= -10.0f ? 0.0f : gelu_one(g, table) * up[i];
  }
}

// Cephes' tanhf with ggml's e^x: for |x| < 0.625 the odd polynomial |x| + |x|^3 P(x^2)
// (small relative error near 0), above it 1 - 2 / (e^(2|x|) + 1) with |x| clamped to 10
// (tanh(10) rounds to 1 in f32, and e^20 stays finite); the sign is copied back from x
// (so tanh(-0) = -0) and NaN stays NaN. Each step is one IEEE operation or an fma, and
// the clamp is written as minps computes it (NaN gives 10), so a SIMD lane that computes
// both branches and selects gets the same bits.
float tanh_f32(float x) {
  const float a = std::fabs(x);
  float r;
  if (a < 0.625f) {
    const float s = a * a;
    float p = std::fma(-5.70498872745e-3f, s, 2.06390887954e-2f);
    p = std::fma(p, s, -5.37397155531e-2f);
    p = std::fma(p, s, 1.33314422036e-1f);
    p = std::fma(p, s, -3.33332819422e-1f);
    r = std::fma(p, s * a, a);
  } else {
    const float e = expf_ggml(2.0f * (a < 10.0f ? a : 10.0f));
    r = 1.0f - 2.0f / (e + 1.0f);
  }
  return std::isnan(x) ? x : std::copysign(r, x);
}

void softcap(float* x, int64_t n, float cap) {
  const float inv_cap = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = cap * tanh_f32(x[i] * inv_cap);
}

}  // namespace loom::kernels::ref
