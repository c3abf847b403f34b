// Activation buffers of one forward pass, sized for the largest batch once and reused
// every step, so the hot path never allocates.
#pragma once

#include <cstdint>

#include "core/aligned_buffer.h"
#include "kernels/matmul.h"
#include "model/transformer.h"

namespace loom {

class ForwardScratch {
 public:
  ForwardScratch(const ModelConfig& c, int64_t max_tokens)
      : max_tokens(max_tokens),
        x(max_tokens * c.n_embd),
        xb(max_tokens * c.n_embd),
        q(max_tokens * c.q_dim()),
        k(max_tokens * c.kv_dim()),
        v(max_tokens * c.kv_dim()),
        att(max_tokens * c.q_dim()),
        proj(max_tokens * c.n_embd),
        gate(max_tokens * c.n_ff),
        up(max_tokens * c.n_ff),
        rope_angles(max_tokens * c.n_rot) {}

  int64_t max_tokens;
  AlignedBuffer<float> x;            // (max_tokens, n_embd) residual stream
  AlignedBuffer<float> xb;           // (max_tokens, n_embd) normalised input of a block
  AlignedBuffer<float> q;            // (max_tokens, n_head * head_dim)
  AlignedBuffer<float> k;            // (max_tokens, n_head_kv * head_dim)
  AlignedBuffer<float> v;            // (max_tokens, n_head_kv * head_dim)
  AlignedBuffer<float> att;          // (max_tokens, n_head * head_dim) attention output
  AlignedBuffer<float> proj;         // (max_tokens, n_embd) block output before the residual add
  AlignedBuffer<float> gate;         // (max_tokens, n_ff)
  AlignedBuffer<float> up;           // (max_tokens, n_ff)
  AlignedBuffer<float> rope_angles;  // (max_tokens, n_rot) cos, sin pairs of each position
  kernels::MatmulScratch matmul;
};

}  // namespace loom
