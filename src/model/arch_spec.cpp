#include "model/arch_spec.h"

#include <fmt/core.h>

namespace loom {
namespace {

const char* norm_name(NormKind kind) {
  return kind == NormKind::kRms ? "RMSNorm" : "LayerNorm";
}

const char* ffn_name(FfnKind kind) {
  switch (kind) {
    case FfnKind::kSwiGlu:
      return "SwiGLU feed-forward (silu(gate) * up)";
    case FfnKind::kGeGlu:
      return "GeGLU feed-forward (gelu(gate) * up, tanh GELU)";
    default:
      return "GELU MLP (no gate, tanh GELU)";
  }
}

// "layers 0-4, 6" style list of the layers for which pred holds.
template <typename Pred>
std::string layer_list(const std::vector<LayerSpec>& layers, Pred pred) {
  std::string out;
  for (size_t l = 0; l < layers.size();) {
    if (!pred(layers[l])) {
      ++l;
      continue;
    }
    size_t end = l;
    while (end + 1 < layers.size() && pred(layers[end + 1])) ++end;
    if (!out.empty()) out += ", ";
    out += end == l ? fmt::format("{}", l) : fmt::format("{}-{}", l, end);
    l = end + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> ArchSpec::features() const {
  std::vector<std::string> f;
  f.push_back(fmt::format("{} (eps {:g})", norm_name(norm), norm_eps));
  f.emplace_back(ffn_name(ffn));
  if (embedding_scale != 0.0f)
    f.push_back(fmt::format("embeddings scaled by {:g}", embedding_scale));
  if (embedding_norm) f.emplace_back("LayerNorm on the token embeddings");
  if (learned_positions) f.emplace_back("learned position embeddings");
  if (rope != RopeKind::kNone) {
    f.push_back(
        fmt::format("RoPE, {}", rope == RopeKind::kNeox ? "NeoX halves" : "adjacent pairs"));
    if (rope_freq_factors) f.emplace_back("RoPE frequency factors (rope_freqs.weight)");
    if (rope_scaling == RopeScalingKind::kLinear) {
      f.push_back(fmt::format(
          "linear RoPE scaling x{:g} (layers {})", rope_scaling_factor,
          layer_list(layers, [](const LayerSpec& l) { return l.rope_freq_scale != 1.0f; })));
    } else if (rope_scaling == RopeScalingKind::kYarn) {
      f.push_back(fmt::format("YaRN RoPE scaling x{:g} from {} positions", rope_scaling_factor,
                              rope_orig_ctx));
    }
    if (!layers.empty()) {
      std::string bases;
      for (const LayerSpec& l : layers) {
        const std::string b = fmt::format("{:g}", l.rope_base);
        if (bases.find(b) == std::string::npos) bases += (bases.empty() ? "" : ", ") + b;
      }
      f.push_back("RoPE base " + bases);
    }
  }
  if (alibi_max_bias > 0.0f) f.push_back(fmt::format("ALiBi (max bias {:g})", alibi_max_bias));
  if (qk_norm) f.emplace_back("per-head RMSNorm of Q and K");
  if (post_norms) f.emplace_back("norms after the attention and feed-forward blocks");
  if (scale_query_first || attention_scale != 0.0f) {
    f.push_back(fmt::format("query scale {:g}{}", attention_scale,
                            scale_query_first ? ", applied to the query before attention" : ""));
  }
  if (attn_softcap != 0.0f) f.push_back(fmt::format("attention soft-capping {:g}", attn_softcap));
  if (final_softcap != 0.0f)
    f.push_back(fmt::format("final logit soft-capping {:g}", final_softcap));
  const std::string windowed = layer_list(layers, [](const LayerSpec& l) { return l.window > 0; });
  if (!windowed.empty()) {
    int64_t window = 0;
    for (const LayerSpec& l : layers) window = window > 0 ? window : l.window;
    f.push_back(fmt::format("sliding window {} on layers {}", window, windowed));
  }
  for (const std::string& note : notes) f.push_back(note);
  return f;
}

}  // namespace loom
