// The Llama family: token embedding, RMSNorm, RoPE, grouped-query attention, SwiGLU
// feed-forward, output norm, output head (or tied embeddings).
#pragma once

#include <memory>
#include <vector>

#include "kernels/matmul.h"
#include "model/transformer.h"

namespace loom {

struct LlamaLayerWeights {
  std::vector<float> attn_norm;  // (n_embd)
  kernels::WeightMatrix wq;      // (n_head*head_dim, n_embd)
  kernels::WeightMatrix wk;      // (n_head_kv*head_dim, n_embd)
  kernels::WeightMatrix wv;      // (n_head_kv*head_dim, n_embd)
  kernels::WeightMatrix wo;      // (n_embd, n_head*head_dim)
  std::vector<float> ffn_norm;   // (n_embd)
  kernels::WeightMatrix w_gate;  // (n_ff, n_embd)
  kernels::WeightMatrix w_up;    // (n_ff, n_embd)
  kernels::WeightMatrix w_down;  // (n_embd, n_ff)
};

struct LlamaWeights {
  kernels::WeightMatrix token_embd;  // (n_vocab, n_embd)
  std::vector<LlamaLayerWeights> layers;
  std::vector<float> output_norm;  // (n_embd)
  kernels::WeightMatrix output;    // (n_vocab, n_embd); token_embd when tied
};

class LlamaTransformer final : public Transformer {
 public:
  LlamaTransformer(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config);

  int64_t weight_bytes() const override;
  int64_t repacked_bytes() const override { return packed_bytes_; }
  int64_t lock_weights() const override;
  std::unique_ptr<ForwardScratch> make_scratch(int64_t max_batch_tokens) const override;
  void forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch, ThreadPool& pool,
               float* logits) const override;

 private:
  void attention_block(const Batch& batch, int64_t layer, KvCache& kv, ForwardScratch& s,
                       ThreadPool& pool) const;
  void feed_forward_block(int64_t n_tokens, const LlamaLayerWeights& w, ForwardScratch& s,
                          ThreadPool& pool) const;

  std::shared_ptr<const gguf::GgufFile> file_;  // keeps the mapping the weights point into
  LlamaWeights weights_;
  int64_t packed_bytes_ = 0;
};

}  // namespace loom
