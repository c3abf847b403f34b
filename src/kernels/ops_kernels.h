// Private to src/kernels (and its tests): the AVX2 halves of ops.h.
#pragma once

#include <cstdint>

namespace loom::kernels::detail::avx2 {

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void softmax(float* x, int64_t n);
void swiglu(float* gate, const float* up, int64_t n);
void add(float* y, const float* x, int64_t n);
// out[i] = e^x[i] to within 2 ulp (the vector exp softmax and swiglu use).
void exp(const float* x, int64_t n, float* out);

}  // namespace loom::kernels::detail::avx2
