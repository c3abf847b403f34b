// The weights of a decoder-only transformer of any supported family, as views into the
// GGUF mapping (or packed copies for the SIMD kernels). Which optional pieces exist
// (biases, fused projections, Q/K norms, post norms, position embeddings, rope_freqs) is
// read from the tensor directory and the ArchSpec; a tensor the model does not use is an
// error, never ignored.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/matmul.h"
#include "model/arch_spec.h"
#include "model/model_config.h"

namespace loom::gguf {
class GgufFile;
}

namespace loom {

// y = W x (+ b): W (rows, cols); bias (rows) or empty.
struct Linear {
  kernels::WeightMatrix w;
  std::vector<float> bias;
};

// A norm's scale (n) and, for LayerNorm with bias, its shift (n) (empty when none).
struct NormWeights {
  std::vector<float> weight;
  std::vector<float> bias;
  const float* bias_or_null() const { return bias.empty() ? nullptr : bias.data(); }
};

struct DecoderLayerWeights {
  NormWeights attn_norm;              // (n_embd)
  Linear wq;                          // (n_head * head_dim, n_embd)
  Linear wk;                          // (n_head_kv * head_dim, n_embd)
  Linear wv;                          // (n_head_kv * head_dim, n_embd)
  Linear wo;                          // (n_embd, n_head * head_dim)
  std::vector<float> q_norm, k_norm;  // (head_dim) with ArchSpec::qk_norm
  NormWeights attn_post_norm;         // (n_embd) with ArchSpec::post_norms
  NormWeights ffn_norm;               // (n_embd)
  Linear gate;                        // (n_ff, n_embd); rows 0 for a GELU MLP
  Linear up;                          // (n_ff, n_embd)
  Linear down;                        // (n_embd, n_ff)
  NormWeights ffn_post_norm;          // (n_embd) with ArchSpec::post_norms

  // Every projection the layer multiplies by (for byte counts, locking, packing).
  std::vector<const Linear*> linears() const;
  std::vector<Linear*> linears();
};

struct DecoderWeights {
  kernels::WeightMatrix token_embd;     // (n_vocab, n_embd), read row by row
  kernels::WeightMatrix position_embd;  // (n_ctx_train, n_embd) with learned positions
  NormWeights embd_norm;                // (n_embd) with ArchSpec::embedding_norm
  std::vector<DecoderLayerWeights> layers;
  NormWeights output_norm;        // (n_embd)
  Linear output;                  // (n_vocab, n_embd); token_embd when tied
  std::vector<float> rope_freqs;  // (n_rot / 2) with ArchSpec::rope_freq_factors

  // Every projection the forward pass multiplies by: each layer's, then the output (the
  // token embedding when tied). For packing and byte counts.
  std::vector<Linear*> projections();
  std::vector<const Linear*> projections() const;
};

// Whether projection `l` of `w` is packed after load, in the background
// (BackgroundPacker), rather than before the model is ready.
// - Q8_0: its packed copy is as big as the file and a fresh copy is slow to fault in (half
//   of a TinyLlama Q8_0 start-up went to zeroing new pages), while its unpacked kernel
//   gives the same bits at about half the speed, so the first token comes sooner from the
//   file's rows.
// - The K-quants likewise (TinyLlama Q4_K_M on 2 Sapphire Rapids-class cores: first token
//   0.58-1.81 s with the packing up front, 0.19-0.23 s without).
// - Q4_0 packs up front: its start-up is already well under the reference's, and its row
//   kernel is far slower than its panels.
// - The output projection packs up front whatever its type: a matrix packed in the
//   background has its file pages (read by the passes meanwhile) and its copy in memory at
//   once, and the output is the largest (deferred, it raised a Q4_K_M run's peak from 773
//   to 822 MB; up front it costs tens of milliseconds).
bool packs_in_background(const DecoderWeights& w, const Linear& l);

// Loads and checks every tensor; loom::Error naming a missing, mis-shaped or unused one.
// Projections are packed for the SIMD kernels where they use a packed layout, except
// those packs_in_background() leaves to the caller; the bytes copied are added to
// packed_bytes.
DecoderWeights load_decoder_weights(const gguf::GgufFile& file, const ModelConfig& config,
                                    const ArchSpec& spec, int64_t& packed_bytes);

}  // namespace loom
