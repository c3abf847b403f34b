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

// In-place softmax over n values.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i]  (SwiGLU)
void swiglu(float* gate, const float* up, int64_t n);

// y[i] += x[i]
void add(float* y, const float* x, int64_t n);

namespace ref {
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);
void softmax(float* x, int64_t n);
void swiglu(float* gate, const float* up, int64_t n);
}  // namespace ref

}  // namespace loom::kernels
