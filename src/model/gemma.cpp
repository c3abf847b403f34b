// Gemma 2 and Gemma 3: embeddings scaled by sqrt(n_embd), GeGLU, norms after the attention
// and feed-forward blocks, the query scaled before attention, local (sliding-window) and
// global layers. Gemma 2 soft-caps attention scores and logits; Gemma 3 normalises Q and K
// per head and gives local layers their own RoPE base.
#include <cmath>

#include "model/architectures.h"

namespace loom {
namespace {

void describe_gemma_common(const ModelConfig& config, int64_t n_layer_27b, ArchSpec& spec) {
  spec.rope = RopeKind::kNeox;
  spec.ffn = FfnKind::kGeGlu;
  spec.post_norms = true;
  spec.embedding_scale = std::sqrt(static_cast<float>(config.n_embd));
  spec.scale_query_first = true;
  // The 27B models scale by n_embd / n_head (query_pre_attn_scalar), the others by the
  // head size; GGUF has no key for it, so llama.cpp (and loom) tell them by layer count.
  const int64_t scale_dim =
      config.n_layer == n_layer_27b ? config.n_embd / config.n_head : config.head_dim;
  spec.attention_scale = 1.0f / std::sqrt(static_cast<float>(scale_dim));
}

}  // namespace

void describe_gemma2(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec) {
  describe_gemma_common(config, 46, spec);
  spec.attn_softcap = static_cast<float>(meta.get_float("attn_logit_softcapping").value_or(50.0));
  spec.final_softcap = static_cast<float>(meta.get_float("final_logit_softcapping").value_or(30.0));
  const int64_t window = meta.get_int("attention.sliding_window").value_or(4096);
  apply_window_pattern(meta, window, 2, spec);
  // Local layers keep the global base unless the file gives one.
  const auto base = meta.get_float("rope.freq_base_swa");
  for (LayerSpec& layer : spec.layers) {
    if (layer.window > 0 && base) layer.rope_base = static_cast<float>(*base);
  }
}

void describe_gemma3(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec) {
  describe_gemma_common(config, 62, spec);
  spec.qk_norm = true;
  spec.final_softcap = static_cast<float>(meta.get_float("final_logit_softcapping").value_or(0.0));
  const int64_t window = meta.get_int("attention.sliding_window").value_or(0);
  if (window > 0) {
    apply_window_pattern(meta, window, 6, spec);
    // Local layers: their own base (10000 unless given) and no RoPE scaling.
    const auto base = static_cast<float>(meta.get_float("rope.freq_base_swa").value_or(10000.0));
    for (LayerSpec& layer : spec.layers) {
      if (layer.window == 0) continue;
      layer.rope_base = base;
      layer.rope_freq_scale = 1.0f;
    }
  }
}

}  // namespace loom
