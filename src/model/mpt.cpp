// MPT: ALiBi instead of position embeddings, LayerNorm, fused QKV, GELU MLP.
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/architectures.h"

namespace loom {

void describe_mpt(ArchMetadata& meta, const ModelConfig&, ArchSpec& spec) {
  spec.norm = NormKind::kLayer;
  spec.ffn = FfnKind::kGelu;
  spec.rope = RopeKind::kNone;
  spec.alibi_max_bias =
      static_cast<float>(meta.get_float("attention.max_alibi_bias").value_or(0.0));
  if (spec.alibi_max_bias < 0.0f) {
    fail("{}: '{}' must not be negative", meta.file().path(),
         meta.full_key("attention.max_alibi_bias"));
  }
}

}  // namespace loom
