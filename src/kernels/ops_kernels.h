// Private to src/kernels (and its tests): the SIMD halves of ops.h and rope.h. Each is
// bit-identical to its scalar reference (ref::) except softmax and exp, whose AVX2
// versions sum or round in their own order (see ops_avx2.cpp).
#pragma once

#include <cstdint>

namespace loom::kernels::detail::avx2 {

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void softmax(float* x, int64_t n);
void swiglu(float* gate, const float* up, int64_t n);
void add(float* y, const float* x, int64_t n);
// out[i] = e^x[i] to within 2 ulp (the vector exp softmax and swiglu use).
void exp(const float* x, int64_t n, float* out);
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out);
void gelu(float* x, int64_t n);
void geglu(float* gate, const float* up, int64_t n);
void softcap(float* x, int64_t n, float cap);
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin);
void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin);

}  // namespace loom::kernels::detail::avx2

namespace loom::kernels::detail::avx512 {

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void add(float* y, const float* x, int64_t n);
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out);
void gelu(float* x, int64_t n);
void geglu(float* gate, const float* up, int64_t n);
void softcap(float* x, int64_t n, float cap);
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin);
void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin);

}  // namespace loom::kernels::detail::avx512
