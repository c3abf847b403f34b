#include "synth_shapes.h"

#include <cmath>
#include <numbers>

namespace loom {
namespace {

// Layouts as in ../shared/reference/arch/README.md (llama.cpp's names for each architecture).
constexpr SynthArch kLlama = {.name = "llama",
                              .norm = SynthNorm::kRms,
                              .ffn = SynthFfn::kGated,
                              .fused_qkv = false,
                              .qkv_bias = false,
                              .proj_bias = false,
                              .qk_norm = false,
                              .post_norms = false,
                              .head_dim_keys = false,
                              .rope_dim_key = true,
                              .vocab_size_key = true};
constexpr SynthArch kQwen2 = {.name = "qwen2",
                              .norm = SynthNorm::kRms,
                              .ffn = SynthFfn::kGated,
                              .fused_qkv = false,
                              .qkv_bias = true,
                              .proj_bias = false,
                              .qk_norm = false,
                              .post_norms = false,
                              .head_dim_keys = false,
                              .rope_dim_key = false,
                              .vocab_size_key = false};
constexpr SynthArch kQwen3 = {.name = "qwen3",
                              .norm = SynthNorm::kRms,
                              .ffn = SynthFfn::kGated,
                              .fused_qkv = false,
                              .qkv_bias = false,
                              .proj_bias = false,
                              .qk_norm = true,
                              .post_norms = false,
                              .head_dim_keys = true,
                              .rope_dim_key = false,
                              .vocab_size_key = false};
constexpr SynthArch kGemma2 = {.name = "gemma2",
                               .norm = SynthNorm::kRms,
                               .ffn = SynthFfn::kGated,
                               .fused_qkv = false,
                               .qkv_bias = false,
                               .proj_bias = false,
                               .qk_norm = false,
                               .post_norms = true,
                               .head_dim_keys = true,
                               .rope_dim_key = false,
                               .vocab_size_key = false};
constexpr SynthArch kGemma3 = {.name = "gemma3",
                               .norm = SynthNorm::kRms,
                               .ffn = SynthFfn::kGated,
                               .fused_qkv = false,
                               .qkv_bias = false,
                               .proj_bias = false,
                               .qk_norm = true,
                               .post_norms = true,
                               .head_dim_keys = true,
                               .rope_dim_key = false,
                               .vocab_size_key = false};
constexpr SynthArch kPhi3 = {.name = "phi3",
                             .norm = SynthNorm::kRms,
                             .ffn = SynthFfn::kFusedGateUp,
                             .fused_qkv = true,
                             .qkv_bias = false,
                             .proj_bias = false,
                             .qk_norm = false,
                             .post_norms = false,
                             .head_dim_keys = false,
                             .rope_dim_key = true,
                             .vocab_size_key = false};
constexpr SynthArch kStarcoder2 = {.name = "starcoder2",
                                   .norm = SynthNorm::kLayerNormWithBias,
                                   .ffn = SynthFfn::kPlain,
                                   .fused_qkv = false,
                                   .qkv_bias = true,
                                   .proj_bias = true,
                                   .qk_norm = false,
                                   .post_norms = false,
                                   .head_dim_keys = false,
                                   .rope_dim_key = false,
                                   .vocab_size_key = false};

// Sizes from each model's Hugging Face config.json.
const std::vector<SynthShape> kShapes = {
    {.name = "tinyllama-1.1b",
     .description =
         "TinyLlama-1.1B (llama): hidden 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632",
     .arch = &kLlama,
     .n_embd = 2048,
     .n_layer = 22,
     .n_head = 32,
     .n_head_kv = 4,
     .n_ff = 5632,
     .n_ctx = 2048,
     .head_dim = 0,
     .rope_freq_base = 10000.0f,
     .norm_eps = 1e-5f,
     .tied_output = false},
    {.name = "llama-3.2-1b",
     .description = "Llama-3.2-1B (llama): hidden 2048, 16 layers, 32 heads, 8 KV heads, "
                    "FFN 8192, Llama 3.1 rope_freqs (factor 32), tied output",
     .arch = &kLlama,
     .n_embd = 2048,
     .n_layer = 16,
     .n_head = 32,
     .n_head_kv = 8,
     .n_ff = 8192,
     .n_ctx = 131072,
     .head_dim = 0,
     .rope_freq_base = 500000.0f,
     .norm_eps = 1e-5f,
     .tied_output = true,
     .rope_scaling =
         Llama3RopeScaling{
             .factor = 32, .low_freq_factor = 1, .high_freq_factor = 4, .original_context = 8192}},
    {.name = "qwen2.5-0.5b",
     .description = "Qwen2.5-0.5B (qwen2): hidden 896, 24 layers, 14 heads, 2 KV heads, "
                    "FFN 4864, Q/K/V biases, tied output",
     .arch = &kQwen2,
     .n_embd = 896,
     .n_layer = 24,
     .n_head = 14,
     .n_head_kv = 2,
     .n_ff = 4864,
     .n_ctx = 32768,
     .head_dim = 0,
     .rope_freq_base = 1e6f,
     .norm_eps = 1e-6f,
     .tied_output = true},
    {.name = "qwen2.5-1.5b",
     .description = "Qwen2.5-1.5B (qwen2): hidden 1536, 28 layers, 12 heads, 2 KV heads, "
                    "FFN 8960, Q/K/V biases, tied output",
     .arch = &kQwen2,
     .n_embd = 1536,
     .n_layer = 28,
     .n_head = 12,
     .n_head_kv = 2,
     .n_ff = 8960,
     .n_ctx = 32768,
     .head_dim = 0,
     .rope_freq_base = 1e6f,
     .norm_eps = 1e-6f,
     .tied_output = true},
    {.name = "qwen3-0.6b",
     .description = "Qwen3-0.6B (qwen3): hidden 1024, 28 layers, 16 heads, 8 KV heads, "
                    "head 128, FFN 3072, Q/K norms, tied output",
     .arch = &kQwen3,
     .n_embd = 1024,
     .n_layer = 28,
     .n_head = 16,
     .n_head_kv = 8,
     .n_ff = 3072,
     .n_ctx = 40960,
     .head_dim = 128,
     .rope_freq_base = 1e6f,
     .norm_eps = 1e-6f,
     .tied_output = true},
    {.name = "gemma-2-2b",
     .description = "Gemma-2-2B (gemma2): hidden 2304, 26 layers, 8 heads, 4 KV heads, head 256, "
                    "FFN 9216, window 4096, soft-caps 50/30, post norms, tied output",
     .arch = &kGemma2,
     .n_embd = 2304,
     .n_layer = 26,
     .n_head = 8,
     .n_head_kv = 4,
     .n_ff = 9216,
     .n_ctx = 8192,
     .head_dim = 256,
     .rope_freq_base = 10000.0f,
     .norm_eps = 1e-6f,
     .tied_output = true,
     .sliding_window = 4096,
     .attn_logit_softcap = 50.0f,
     .final_logit_softcap = 30.0f},
    {.name = "gemma-3-1b",
     .description = "Gemma-3-1B (gemma3): hidden 1152, 26 layers, 4 heads, 1 KV head, head 256, "
                    "FFN 6912, window 512, Q/K norms, post norms, tied output",
     .arch = &kGemma3,
     .n_embd = 1152,
     .n_layer = 26,
     .n_head = 4,
     .n_head_kv = 1,
     .n_ff = 6912,
     .n_ctx = 32768,
     .head_dim = 256,
     .rope_freq_base = 1e6f,
     .norm_eps = 1e-6f,
     .tied_output = true,
     .sliding_window = 512},
    {.name = "phi-3-mini",
     .description = "Phi-3-mini-4k (phi3): hidden 3072, 32 layers, 32 heads, FFN 8192, fused "
                    "QKV and gate/up, untied output",
     .arch = &kPhi3,
     .n_embd = 3072,
     .n_layer = 32,
     .n_head = 32,
     .n_head_kv = 32,
     .n_ff = 8192,
     .n_ctx = 4096,
     .head_dim = 0,
     .rope_freq_base = 10000.0f,
     .norm_eps = 1e-5f,
     .tied_output = false,
     .sliding_window = 2047},
    {.name = "starcoder2-3b",
     .description = "StarCoder2-3B (starcoder2): hidden 3072, 30 layers, 24 heads, 2 KV heads, "
                    "FFN 12288, LayerNorm and biases, GELU MLP, tied output",
     .arch = &kStarcoder2,
     .n_embd = 3072,
     .n_layer = 30,
     .n_head = 24,
     .n_head_kv = 2,
     .n_ff = 12288,
     .n_ctx = 16384,
     .head_dim = 0,
     .rope_freq_base = 999999.4f,
     .norm_eps = 1e-5f,
     // Tied: the checkpoint has no lm_head (bigcode-project/starcoder2 issue 18), which
     // is how it counts 3.03 B parameters.
     .tied_output = true},
    {.name = "tiny",
     .description = "a tiny test shape (llama): hidden 64, 2 layers, 4 heads, 2 KV heads, FFN 128",
     .arch = &kLlama,
     .n_embd = 64,
     .n_layer = 2,
     .n_head = 4,
     .n_head_kv = 2,
     .n_ff = 128,
     .n_ctx = 512,
     .head_dim = 0,
     .rope_freq_base = 10000.0f,
     .norm_eps = 1e-5f,
     .tied_output = false},
};

const std::vector<SynthShapeAlias> kAliases = {
    {.alias = "llama3.2-1b", .name = "llama-3.2-1b"},
};

}  // namespace

const std::vector<SynthShape>& synth_shape_table() {
  return kShapes;
}

const std::vector<SynthShapeAlias>& synth_shape_aliases() {
  return kAliases;
}

const SynthShape* find_synth_shape(std::string_view name) {
  for (const SynthShapeAlias& a : kAliases) {
    if (name == a.alias) name = a.name;
  }
  for (const SynthShape& s : kShapes) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::vector<float> llama3_rope_freqs(const Llama3RopeScaling& scaling, int64_t head_dim,
                                     float rope_freq_base) {
  const double low_freq_wavelen = scaling.original_context / scaling.low_freq_factor;
  const double high_freq_wavelen = scaling.original_context / scaling.high_freq_factor;
  std::vector<float> divisors;
  for (int64_t i = 0; i < head_dim; i += 2) {
    // The converter's frequencies are float32 (torch), the rest Python floats.
    const float freq =
        1.0f / std::pow(rope_freq_base, static_cast<float>(i) / static_cast<float>(head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    double divisor;
    if (wavelen < high_freq_wavelen) {
      divisor = 1;
    } else if (wavelen > low_freq_wavelen) {
      divisor = scaling.factor;
    } else {
      const double smooth = (scaling.original_context / wavelen - scaling.low_freq_factor) /
                            (scaling.high_freq_factor - scaling.low_freq_factor);
      divisor = 1 / ((1 - smooth) / scaling.factor + smooth);
    }
    divisors.push_back(static_cast<float>(divisor));
  }
  return divisors;
}

}  // namespace loom
