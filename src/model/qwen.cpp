// Qwen2 / Qwen2.5 (Q/K/V biases, found in the tensor directory) and Qwen3 (per-head
// RMSNorm of Q and K): NeoX RoPE, SwiGLU.
#include "model/architectures.h"

namespace loom {

void describe_qwen2(ArchMetadata&, const ModelConfig&, ArchSpec& spec) {
  spec.rope = RopeKind::kNeox;
}

void describe_qwen3(ArchMetadata&, const ModelConfig&, ArchSpec& spec) {
  spec.rope = RopeKind::kNeox;
  spec.qk_norm = true;
}

}  // namespace loom
