// Llama (1, 2, 3.x) and Mistral: RMSNorm, adjacent-pair RoPE (with Llama 3.1's
// rope_freqs when present), SwiGLU: the shared blocks' defaults.
#include <fmt/core.h>

#include "model/architectures.h"

namespace loom {
namespace {

// llama.cpp runs llama and mistral files without their sliding window; loom follows the
// model's definition (Mistral 7B v0.1 attends over its last 4096 positions).
void note_window(const ArchSpec& spec, std::vector<std::string>& notes) {
  if (!spec.layers.empty() && spec.layers.front().window > 0) {
    notes.push_back(fmt::format(
        "sliding window of {} applied on every layer, as the model defines it (llama.cpp "
        "ignores it for this architecture)",
        spec.layers.front().window));
  }
}

}  // namespace

void describe_llama(ArchMetadata&, const ModelConfig&, ArchSpec& spec) {
  spec.rope = RopeKind::kNormal;
  note_window(spec, spec.notes);
}

void describe_mistral(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec) {
  describe_llama(meta, config, spec);
}

}  // namespace loom
