// What an architecture is, as data: the choices the shared transformer blocks make for
// one model family, read from the GGUF file's `<arch>.*` metadata and tensor directory.
// model/<arch>.cpp fills one of these; model/decoder.cpp runs any of them. Nothing here
// names a family: a new family is a new describe function, not a new branch in forward().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loom {

enum class NormKind {
  kRms,    // x / sqrt(mean(x^2) + eps) * w
  kLayer,  // (x - mean) / sqrt(var + eps) * w (+ b when the file has a bias)
};

enum class FfnKind {
  kSwiGlu,  // down(silu(gate x) * up x)
  kGeGlu,   // down(gelu(gate x) * up x)
  kGelu,    // down(gelu(up x)): no gate
};

enum class RopeKind {
  kNone,    // no rotary embedding (learned positions or ALiBi)
  kNormal,  // adjacent pairs (x[2i], x[2i+1])
  kNeox,    // halves (x[i], x[i + n_rot/2])
};

enum class RopeScalingKind { kNone, kLinear, kYarn };

// Per layer: its attention window and RoPE frequencies (local and global layers differ).
struct LayerSpec {
  int64_t window = 0;  // sliding window: the query at i sees keys j with i - j < window; 0 = all
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / scaling factor (linear or YaRN)
};

struct ArchSpec {
  std::string name;  // general.architecture

  NormKind norm = NormKind::kRms;
  float norm_eps = 1e-5f;
  FfnKind ffn = FfnKind::kSwiGlu;

  // Embedding.
  bool learned_positions = false;  // position_embd.weight row added to each token's embedding
  float embedding_scale = 0.0f;    // embedding *= scale (Gemma: sqrt(n_embd)); 0 = none
  bool embedding_norm = false;     // token_embd_norm (LayerNorm) on the embeddings (BLOOM)

  // Attention.
  bool qk_norm = false;          // RMSNorm over each Q and K head before RoPE
  bool post_norms = false;       // post_attention_norm / post_ffw_norm on the block outputs
  float attention_scale = 0.0f;  // query scale; 0 = 1 / sqrt(head_dim)
  // The query is multiplied by the scale before attention (so before the F16 rounding of
  // the reference's flash attention) rather than each score after it (Gemma, Phi-3).
  bool scale_query_first = false;
  float attn_softcap = 0.0f;    // scores: cap * tanh(s / cap); 0 = none
  float final_softcap = 0.0f;   // logits: the same; 0 = none
  float alibi_max_bias = 0.0f;  // ALiBi slopes from this bias; 0 = none

  // RoPE.
  RopeKind rope = RopeKind::kNormal;
  RopeScalingKind rope_scaling = RopeScalingKind::kNone;
  float rope_scaling_factor = 1.0f;
  bool rope_freq_factors = false;  // rope_freqs.weight (Llama 3.1 per-frequency divisors)
  int64_t rope_orig_ctx = 0;       // YaRN: context the model was trained with before scaling
  float yarn_ext_factor = 0.0f;
  float yarn_attn_factor = 1.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;

  std::vector<LayerSpec> layers;  // (n_layer)

  // Where loom follows the model's definition rather than the reference engine (shown by
  // `loom info`), e.g. a sliding window llama.cpp ignores.
  std::vector<std::string> notes;

  // One line per feature loom applies for this model, for `loom info`.
  std::vector<std::string> features() const;
};

}  // namespace loom
