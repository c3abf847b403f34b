// StarCoder2: LayerNorm with biases, biases on every projection, a plain GELU MLP, NeoX
// RoPE.
#include "model/architectures.h"

namespace loom {

void describe_starcoder2(ArchMetadata&, const ModelConfig&, ArchSpec& spec) {
  spec.norm = NormKind::kLayer;
  spec.ffn = FfnKind::kGelu;
  spec.rope = RopeKind::kNeox;
}

}  // namespace loom
