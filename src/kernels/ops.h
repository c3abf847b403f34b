// Element-wise and normalisation operations of the transformer block. Each has a scalar
// reference in namespace `ref` (ops_ref.cpp) that the tests compare the fast path with.
#pragma once

#include <cstdint>

namespace loom::kernels {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i], for one row of n; the squares summed
// in double over 16 lanes (element i in lane i % 16, folded in halves), the order of every
// SIMD twin.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i]  (SwiGLU) over ONE row of n: as in the reference engine,
// blocks of 16 use a vectorised e^x and the last n % 16 elements libm's, so call it per row
// (a token's result must not depend on the batch).
void swiglu(float* gate, const float* up, int64_t n);

// y[i] += x[i] (also the bias add of a projection: one row at a time)
void add(float* y, const float* x, int64_t n);

// LayerNorm of one row: out[i] = (x[i] - mean) / sqrt(var + eps) * weight[i] + bias[i],
// mean and variance summed in double (as ggml_norm, then ggml_mul and ggml_add, each
// rounded on its own). weight and bias may be null (then 1 and 0). The double sums run
// over 16 lanes (element i in lane i % 16, lanes folded in halves; see ops_ref.cpp) so
// that every instruction set gives the same bits.
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out);

// GELU, tanh form, in place over one row, as the reference engine computes it: x <= -10
// gives 0, x >= 10 gives x, otherwise x rounded to f16 indexes a table of
// f16(gelu(x)) (0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2)))).
void gelu(float* x, int64_t n);

// gate[i] = gelu(gate[i]) * up[i] (GeGLU) over one row, gelu as above.
void geglu(float* gate, const float* up, int64_t n);

// x[i] = cap * tanh(x[i] * (1 / cap)) (Gemma's logit soft-capping) over one row.
void softcap(float* x, int64_t n, float cap);

namespace ref {
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void softmax(float* x, int64_t n);
void swiglu(float* gate, const float* up, int64_t n);
// The pieces of swiglu: the reference engine's vectorised e^x, and the libm tail.
float expf_ggml(float x);
void swiglu_tail(float* gate, const float* up, int64_t n);
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out);
void gelu(float* x, int64_t n);
void geglu(float* gate, const float* up, int64_t n);
void softcap(float* x, int64_t n, float cap);
// tanh as every path of softcap computes it (lane for lane the same in the SIMD twins):
// within 2e-7 of tanh (1.1e-7 measured), and within 2.5e-7 relative.
float tanh_f32(float x);
// The f16 table of gelu(x) indexed by x's f16 bits (65536 entries, then one 0 of padding
// so that a 32-bit gather at the last entry stays inside).
const uint16_t* gelu_table();
}  // namespace ref

}  // namespace loom::kernels
