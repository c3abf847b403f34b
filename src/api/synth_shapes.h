// What `loom synth` writes: for each `general.architecture`, the tensors and `<arch>.*`
// keys llama.cpp's loader expects (as a Hugging Face conversion writes them), and the
// real models' sizes. Data only; synth.cpp turns a shape into a file.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace loom {

enum class SynthNorm {
  kRms,                // weight only; key attention.layer_norm_rms_epsilon
  kLayerNormWithBias,  // weight and bias; key attention.layer_norm_epsilon
};

enum class SynthFfn {
  kGated,        // ffn_gate, ffn_up [n_embd -> n_ff], ffn_down [n_ff -> n_embd]
  kFusedGateUp,  // ffn_up [n_embd -> 2 n_ff]: gate rows, then up rows; ffn_down
  kPlain,        // ffn_up, ffn_down (GELU MLP, no gate)
};

// The layout of one architecture: which tensors each layer has and which optional
// `<arch>.*` keys its conversion writes.
struct SynthArch {
  const char* name;  // general.architecture and the key prefix
  SynthNorm norm;
  SynthFfn ffn;
  bool fused_qkv;       // attn_qkv [n_embd -> q_dim + 2 kv_dim]: Q rows, K rows, V rows
  bool qkv_bias;        // attn_q/k/v.bias (attn_qkv.bias when fused)
  bool proj_bias;       // attn_output.bias, ffn_up.bias, ffn_down.bias
  bool qk_norm;         // attn_q_norm, attn_k_norm [head_dim]: RMS norm over each head
  bool post_norms;      // post_attention_norm, post_ffw_norm [n_embd]
  bool head_dim_keys;   // attention.key_length = attention.value_length = head_dim
  bool rope_dim_key;    // rope.dimension_count = head_dim
  bool vocab_size_key;  // vocab_size
};

// Llama 3.1's RoPE frequency scaling, which a conversion stores as rope_freqs.weight.
struct Llama3RopeScaling {
  double factor;
  double low_freq_factor;
  double high_freq_factor;
  double original_context;
};

struct SynthShape {
  const char* name;
  const char* description;  // one line, for `loom synth --help`
  const SynthArch* arch;
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
  int64_t head_dim;  // 0: n_embd / n_head
  float rope_freq_base;
  float norm_eps;
  bool tied_output;               // no output.weight: the output matrix is token_embd.weight
  uint32_t sliding_window = 0;    // attention.sliding_window; 0: no key
  float attn_logit_softcap = 0;   // attn_logit_softcapping; 0: no key
  float final_logit_softcap = 0;  // final_logit_softcapping; 0: no key
  std::optional<Llama3RopeScaling> rope_scaling;  // rope_freqs.weight [head_dim / 2]

  int64_t head_size() const { return head_dim != 0 ? head_dim : n_embd / n_head; }
};

// Every shape, in the order `loom synth --help` lists them.
const std::vector<SynthShape>& synth_shape_table();

// Older names that still work, each with the name it stands for.
struct SynthShapeAlias {
  const char* alias;
  const char* name;
};
const std::vector<SynthShapeAlias>& synth_shape_aliases();

// The shape called `name` (or an alias of it); nullptr when there is none.
const SynthShape* find_synth_shape(std::string_view name);

// rope_freqs.weight as llama.cpp's converter computes it for a Llama 3.1 rope_scaling:
// one divisor per rotated pair (head_dim / 2 values).
std::vector<float> llama3_rope_freqs(const Llama3RopeScaling& scaling, int64_t head_dim,
                                     float rope_freq_base);

}  // namespace loom
