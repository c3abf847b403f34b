#include "model/architectures.h"

#include <fmt/ranges.h>

#include <cmath>
#include <string_view>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace loom {
namespace {

struct Family {
  std::string_view name;
  DescribeFamily describe;
};

constexpr Family kFamilies[] = {
    {"llama", describe_llama}, {"mistral", describe_mistral},       {"qwen2", describe_qwen2},
    {"qwen3", describe_qwen3}, {"gemma2", describe_gemma2},         {"gemma3", describe_gemma3},
    {"phi3", describe_phi3},   {"starcoder2", describe_starcoder2}, {"gpt2", describe_gpt2},
    {"mpt", describe_mpt},     {"bloom", describe_bloom},
};

// yarn_attn_factor as llama.cpp derives it (llama_context): the magnitude correction of
// YaRN, cancelled by the 1 + 0.1 ln(factor) that the rope kernel applies again.
float yarn_attn_factor(float factor, float log_multiplier, float file_attn_factor) {
  auto mscale = [](float scale, float m) {
    return scale <= 1.0f ? 1.0f : 0.1f * m * std::log(scale) + 1.0f;
  };
  float attn = log_multiplier != 0.0f ? mscale(factor, 1.0f) / mscale(factor, log_multiplier)
                                      : mscale(factor, 1.0f);
  attn *= 1.0f / (1.0f + 0.1f * std::log(factor));
  return attn * file_attn_factor;
}

// RoPE base and scaling, and a window on every layer, as every family reads them.
void describe_common(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec) {
  // Read by ModelConfig, or metadata that does not enter the computation.
  meta.understood({"context_length", "embedding_length", "block_count", "feed_forward_length",
                   "attention.head_count", "attention.head_count_kv", "attention.key_length",
                   "attention.value_length", "rope.dimension_count", "vocab_size",
                   "rope.scaling.finetuned", "tensor_data_layout"});
  const auto base = static_cast<float>(meta.get_float("rope.freq_base").value_or(10000.0));
  const std::string type = meta.get_string("rope.scaling.type").value_or("none");
  auto factor = static_cast<float>(meta.get_float("rope.scaling.factor").value_or(0.0));
  if (factor == 0.0f)
    factor = static_cast<float>(meta.get_float("rope.scale_linear").value_or(0.0));
  if (type == "none" || factor == 0.0f || factor == 1.0f) {
    spec.rope_scaling = RopeScalingKind::kNone;
    factor = 1.0f;
  } else if (type == "linear") {
    spec.rope_scaling = RopeScalingKind::kLinear;
  } else if (type == "yarn") {
    spec.rope_scaling = RopeScalingKind::kYarn;
  } else {
    fail(
        "{}: '{}' = '{}' is a RoPE scaling loom does not implement (supported: none, linear, "
        "yarn)",
        meta.file().path(), meta.full_key("rope.scaling.type"), type);
  }
  if (factor < 0.0f || !std::isfinite(factor)) {
    fail("{}: '{}' must be positive, got {}", meta.file().path(),
         meta.full_key("rope.scaling.factor"), factor);
  }
  spec.rope_scaling_factor = factor;
  spec.rope_orig_ctx =
      meta.get_int("rope.scaling.original_context_length").value_or(config.n_ctx_train);
  const auto file_attn_factor =
      static_cast<float>(meta.get_float("rope.scaling.attn_factor").value_or(1.0));
  const auto log_multiplier =
      static_cast<float>(meta.get_float("rope.scaling.yarn_log_multiplier").value_or(0.0));
  spec.yarn_beta_fast =
      static_cast<float>(meta.get_float("rope.scaling.yarn_beta_fast").value_or(32.0));
  spec.yarn_beta_slow =
      static_cast<float>(meta.get_float("rope.scaling.yarn_beta_slow").value_or(1.0));
  if (spec.rope_scaling == RopeScalingKind::kYarn) {
    spec.yarn_ext_factor =
        static_cast<float>(meta.get_float("rope.scaling.yarn_ext_factor").value_or(1.0));
    spec.yarn_attn_factor = yarn_attn_factor(factor, log_multiplier, file_attn_factor);
  } else {
    spec.yarn_attn_factor = file_attn_factor;
  }
  spec.rope_freq_factors = meta.file().find_tensor("rope_freqs.weight") != nullptr;

  spec.layers.assign(static_cast<size_t>(config.n_layer), LayerSpec{});
  const int64_t window = meta.get_int("attention.sliding_window").value_or(0);
  if (window < 0) {
    fail("{}: '{}' must not be negative, got {}", meta.file().path(),
         meta.full_key("attention.sliding_window"), window);
  }
  for (LayerSpec& layer : spec.layers) {
    layer.window = window;
    layer.rope_base = base;
    layer.rope_freq_scale = 1.0f / factor;
  }
}

// The norm epsilon of the family's norm kind (each kind has its own key).
void read_norm_eps(ArchMetadata& meta, ArchSpec& spec) {
  const char* key = spec.norm == NormKind::kRms ? "attention.layer_norm_rms_epsilon"
                                                : "attention.layer_norm_epsilon";
  spec.norm_eps = static_cast<float>(meta.get_float(key).value_or(1e-5));
  if (!(spec.norm_eps >= 0.0f)) {
    fail("{}: '{}' must not be negative", meta.file().path(), meta.full_key(key));
  }
}

}  // namespace

void apply_window_pattern(ArchMetadata& meta, int64_t window, int64_t default_period,
                          ArchSpec& spec) {
  const int64_t n_layer = static_cast<int64_t>(spec.layers.size());
  std::vector<bool> local(static_cast<size_t>(n_layer));
  const gguf::Value* pattern = meta.file().find(meta.full_key("attention.sliding_window_pattern"));
  meta.understood({"attention.sliding_window_pattern"});
  if (pattern != nullptr && pattern->type == gguf::ValueType::ARRAY) {
    if (static_cast<int64_t>(pattern->array_size()) != n_layer) {
      fail("{}: '{}' has {} entries for {} layers", meta.file().path(),
           meta.full_key("attention.sliding_window_pattern"), pattern->array_size(), n_layer);
    }
    for (int64_t l = 0; l < n_layer; ++l) {
      const size_t i = static_cast<size_t>(l);
      local[i] = !pattern->array_u.empty()   ? pattern->array_u[i] != 0
                 : !pattern->array_i.empty() ? pattern->array_i[i] != 0
                                             : false;
    }
  } else {
    const int64_t period = pattern != nullptr
                               ? meta.get_int("attention.sliding_window_pattern").value_or(0)
                               : default_period;
    for (int64_t l = 0; l < n_layer; ++l) {
      local[static_cast<size_t>(l)] = period == 0 || l % period < period - 1;
    }
  }
  for (int64_t l = 0; l < n_layer; ++l) {
    spec.layers[static_cast<size_t>(l)].window = local[static_cast<size_t>(l)] ? window : 0;
  }
}

namespace {

const Family& family_of(const gguf::GgufFile& file, const std::string& arch) {
  for (const Family& f : kFamilies) {
    if (f.name == arch) return f;
  }
  fail("{}: architecture '{}' is not supported (supported: {})", file.path(), arch,
       fmt::join(supported_architectures(), ", "));
}

}  // namespace

void require_supported_architecture(const gguf::GgufFile& file) {
  const std::optional<std::string> arch = file.get_string("general.architecture");
  if (!arch) fail("{}: metadata key 'general.architecture' is missing", file.path());
  family_of(file, *arch);
}

ArchSpec describe_architecture(const gguf::GgufFile& file, const ModelConfig& config) {
  const Family* family = &family_of(file, config.architecture);
  ArchMetadata meta(file, config.architecture);
  ArchSpec spec;
  spec.name = config.architecture;
  describe_common(meta, config, spec);
  family->describe(meta, config, spec);
  read_norm_eps(meta, spec);
  if (spec.rope == RopeKind::kNone && spec.rope_freq_factors) {
    fail("{}: tensor 'rope_freqs.weight' given to a {} model, which has no RoPE", file.path(),
         config.architecture);
  }
  meta.refuse_unread();
  return spec;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const Family& f : kFamilies) names.emplace_back(f.name);
  return names;
}

}  // namespace loom
