// Dispatch of ops.h to the instruction set chosen in isa.h.
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

[[maybe_unused]] inline bool use_avx512() {
#if LOOM_KERNELS_HAVE_AVX2
  return active_isa() >= Isa::kAvx512;
#else
  return false;
#endif
}

}  // namespace

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx512()) return detail::avx512::rmsnorm(x, weight, n, eps, out);
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
  if (use_avx512()) return detail::avx512::add(y, x, n);
  if (use_avx2()) return detail::avx2::add(y, x, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx512()) return detail::avx512::layernorm(x, weight, bias, n, eps, out);
  if (use_avx2()) return detail::avx2::layernorm(x, weight, bias, n, eps, out);
#endif
  ref::layernorm(x, weight, bias, n, eps, out);
}

void gelu(float* x, int64_t n) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx512()) return detail::avx512::gelu(x, n);
  if (use_avx2()) return detail::avx2::gelu(x, n);
#endif
  ref::gelu(x, n);
}

void geglu(float* gate, const float* up, int64_t n) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx512()) return detail::avx512::geglu(gate, up, n);
  if (use_avx2()) return detail::avx2::geglu(gate, up, n);
#endif
  ref::geglu(gate, up, n);
}

void softcap(float* x, int64_t n, float cap) {
#if LOOM_KERNELS_HAVE_AVX2
  if (use_avx512()) return detail::avx512::softcap(x, n, cap);
  if (use_avx2()) return detail::avx2::softcap(x, n, cap);
#endif
  ref::softcap(x, n, cap);
}

}  // namespace loom::kernels
