// Dispatch of ops.h to the instruction set chosen in isa.h, and RoPE, which is cheap
// enough (one sin/cos pair per rotated pair) to need no SIMD version.
#include "kernels/ops.h"

#include <cmath>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/ops_kernels.h"

namespace loom::kernels {
namespace {

[[maybe_unused]] inline bool use_avx2() {
#if LOOM_KERNELS_HAVE_AVX2
  return active_isa() >= Isa::kAvx2;
#else
  return false;
#endif
}

}  // namespace

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx2()) return detail::avx2::rmsnorm(x, weight, n, eps, out);
#endif
  ref::rmsnorm(x, weight, n, eps, out);
}

void softmax(float* x, int64_t n) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx2()) return detail::avx2::softmax(x, n);
#endif
  ref::softmax(x, n);
}

void swiglu(float* gate, const float* up, int64_t n) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx2()) return detail::avx2::swiglu(gate, up, n);
#endif
  ref::swiglu(gate, up, n);
}

void add(float* y, const float* x, int64_t n) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx2()) return detail::avx2::add(y, x, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

// As ggml_rope_cache_init with freq_scale = 1, no YaRN, no frequency factors:
// theta_scale = freq_base^(-2 / n_rot) and theta = pos, multiplied by theta_scale per
// pair, all in f32.
void rope_angles(int64_t n_rot, int64_t pos, float freq_base, float* cos_sin) {
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
  auto theta = static_cast<float>(pos);
  for (int64_t i = 0; i + 1 < n_rot; i += 2) {
    cos_sin[i] = std::cos(theta);
    cos_sin[i + 1] = std::sin(theta);
    theta *= theta_scale;
  }
}

void rope_rotate(float* x, int64_t n_rot, const float* cos_sin) {
  for (int64_t i = 0; i + 1 < n_rot; i += 2) {
    const float c = cos_sin[i];
    const float s = cos_sin[i + 1];
    const float x0 = x[i];
    const float x1 = x[i + 1];
    x[i] = x0 * c - x1 * s;
    x[i + 1] = x0 * s + x1 * c;
  }
}

void rope(float* x, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base) {
  if (n_rot > head_dim || n_rot % 2 != 0) {
    fail("rope: n_rot {} must be even and at most head_dim {}", n_rot, head_dim);
  }
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
  auto theta = static_cast<float>(pos);
  for (int64_t i = 0; i < n_rot; i += 2) {
    const float c = std::cos(theta);
    const float s = std::sin(theta);
    const float x0 = x[i];
    const float x1 = x[i + 1];
    x[i] = x0 * c - x1 * s;
    x[i + 1] = x0 * s + x1 * c;
    theta *= theta_scale;
  }
}

}  // namespace loom::kernels
