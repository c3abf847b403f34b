// The decoder-only transformer every supported family runs: embedding, then per layer
// norm -> qkv -> (Q/K norm) -> rope -> attend -> out (-> post norm) -> residual -> norm ->
// ffn (-> post norm) -> residual, then the output norm and head. What differs between
// families is data (ArchSpec, read by model/<arch>.cpp) and which tensors the file has.
#pragma once

#include <memory>

#include "model/arch_spec.h"
#include "model/background_packer.h"
#include "model/decoder_weights.h"
#include "model/transformer.h"

namespace loom {

class DecoderTransformer final : public Transformer {
 public:
  DecoderTransformer(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, ArchSpec spec);

  const ArchSpec& spec() const { return spec_; }
  std::vector<std::string> features() const override { return spec_.features(); }
  int64_t max_positions() const override;
  int64_t attention_span() const override;
  int64_t weight_bytes() const override;
  int64_t repacked_bytes() const override;
  void finish_packing() const override;
  int64_t lock_weights() const override;
  std::unique_ptr<ForwardScratch> make_scratch(int64_t max_batch_tokens) const override;
  void forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch, ThreadPool& pool,
               float* logits) const override;

 private:
  void embed(const Batch& batch, ForwardScratch& s, ThreadPool& pool) const;
  void attention_block(const Batch& batch, int64_t layer, KvCache& kv, ForwardScratch& s,
                       ThreadPool& pool) const;
  void feed_forward_block(int64_t n_tokens, const DecoderLayerWeights& w, ForwardScratch& s,
                          ThreadPool& pool) const;
  void norm(const float* x, const NormWeights& w, int64_t n, float* out) const;
  // A forward pass holds the weights a layer at a time, so that a copy packed meanwhile
  // is installed (and the file's pages under it released) before the next layer, and
  // the two copies of a matrix never pile up over a long pass.
  std::shared_lock<std::shared_mutex> hold_weights() const;

  std::shared_ptr<const gguf::GgufFile> file_;  // keeps the mapping the weights point into
  ArchSpec spec_;
  DecoderWeights weights_;
  std::vector<float> alibi_slopes_;  // (n_head) with ALiBi; empty otherwise
  int64_t packed_bytes_ = 0;
  // Packs what packs_in_background() defers; declared last so that it stops before the
  // weights it points into go.
  std::unique_ptr<BackgroundPacker> packer_;
};

}  // namespace loom
