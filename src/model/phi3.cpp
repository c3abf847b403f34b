// Phi-3: fused QKV and fused gate+up projections (split at load from the tensor
// directory), NeoX RoPE, the query scaled before attention.
#include <fmt/core.h>

#include <cmath>

#include "model/architectures.h"

namespace loom {

void describe_phi3(ArchMetadata&, const ModelConfig& config, ArchSpec& spec) {
  spec.rope = RopeKind::kNeox;
  spec.scale_query_first = true;
  spec.attention_scale = 1.0f / std::sqrt(static_cast<float>(config.head_dim));
  if (!spec.layers.empty() && spec.layers.front().window > 0) {
    spec.notes.push_back(fmt::format(
        "sliding window of {} applied on every layer, as the model defines it (llama.cpp "
        "disables it for phi3; it only matters past {} positions)",
        spec.layers.front().window, spec.layers.front().window));
  }
}

}  // namespace loom
