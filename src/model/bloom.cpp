// BLOOM: ALiBi (maximum bias 8, fixed: the files carry no key), LayerNorm on the token
// embeddings, LayerNorm and biases everywhere, GELU MLP.
#include "model/architectures.h"

namespace loom {

void describe_bloom(ArchMetadata&, const ModelConfig&, ArchSpec& spec) {
  spec.norm = NormKind::kLayer;
  spec.ffn = FfnKind::kGelu;
  spec.rope = RopeKind::kNone;
  spec.alibi_max_bias = 8.0f;
  spec.embedding_norm = true;
}

}  // namespace loom
