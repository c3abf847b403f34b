// GPT-2: learned position embeddings instead of RoPE, LayerNorm, fused QKV, GELU MLP, all
// with biases.
#include "model/architectures.h"

namespace loom {

void describe_gpt2(ArchMetadata&, const ModelConfig&, ArchSpec& spec) {
  spec.norm = NormKind::kLayer;
  spec.ffn = FfnKind::kGelu;
  spec.rope = RopeKind::kNone;
  spec.learned_positions = true;
}

}  // namespace loom
