// Element-wise and normalisation operations of the transformer block. Each has a scalar
// reference in namespace `ref` (ops_ref.cpp) that the tests compare the fast path with.
#pragma once

#include <cstdint>

namespace loom::kernels {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i], for one row of n.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);

// In-place rotary embedding of one head vector of `head_dim` at position `pos`, rotating
// adjacent pairs (x[2i], x[2i+1]) by pos * freq_base^(-2i/n_rot) for 2i < n_rot
// ("normal" RoPE as llama.cpp applies to Llama GGUF files). The angle is computed in
// f32 as theta = pos; theta *= freq_base^(-2/n_rot) per pair, matching ggml.
void rope(float* x, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base);

// rope() in two steps, for rotating many heads at one position with one set of angles:
// rope_angles fills cos_sin[2i] = cos(theta_i), cos_sin[2i + 1] = sin(theta_i) for
// 2i < n_rot (n_rot floats, computed exactly as rope() computes them); rope_rotate then
// rotates the first n_rot elements of x. rope_rotate(x, n_rot, angles) after
// rope_angles(n_rot, pos, base, angles) equals rope(x, head_dim, n_rot, pos, base) bit for bit.
void rope_angles(int64_t n_rot, int64_t pos, float freq_base, float* cos_sin);
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i]  (SwiGLU) over ONE row of n: as in the reference engine,
// blocks of 16 use a vectorised e^x and the last n % 16 elements libm's, so call it per row
// (a token's result must not depend on the batch).
void swiglu(float* gate, const float* up, int64_t n);

// y[i] += x[i]
void add(float* y, const float* x, int64_t n);

namespace ref {
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void softmax(float* x, int64_t n);
void swiglu(float* gate, const float* up, int64_t n);
// The pieces of swiglu: the reference engine's vectorised e^x, and the libm tail.
float expf_ggml(float x);
void swiglu_tail(float* gate, const float* up, int64_t n);
}  // namespace ref

}  // namespace loom::kernels
