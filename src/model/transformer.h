// A loaded model: its hyperparameters and weights (views into the GGUF mapping) and
// the forward pass of its architecture. The model never sees text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model_config.h"

namespace loom::gguf {
class GgufFile;
}

namespace loom {

// Buffers a forward pass needs, sized once for the largest batch and reused every step.
class ForwardScratch;

class Transformer {
 public:
  // Picks the architecture from general.architecture; loom::Error for an unsupported
  // architecture or a missing / mis-shaped / unsupported-type tensor (naming it).
  // The file must outlive the model.
  static std::unique_ptr<Transformer> load(std::shared_ptr<const gguf::GgufFile> file);
  virtual ~Transformer() = default;

  const ModelConfig& config() const { return config_; }
  // What loom applies for this architecture, one line each (`loom info`).
  virtual std::vector<std::string> features() const { return {}; }
  // How far back a new token attends on every layer (the smallest sliding window when every
  // layer has one); 0 = some layer sees the whole sequence. The KV cache frees what lies
  // further back.
  virtual int64_t attention_span() const { return 0; }
  // Positions the model can encode (learned position embeddings); 0 = no limit.
  virtual int64_t max_positions() const { return 0; }
  // Bytes of weights the forward pass reads for one token (for bandwidth figures).
  virtual int64_t weight_bytes() const = 0;
  // Bytes of weights copied at load into the SIMD kernels' layout (0 when none); the
  // copies replace the file's pages in memory rather than adding to them.
  virtual int64_t repacked_bytes() const { return 0; }
  // Waits until the weights packed in the background after load are in place (so that a
  // benchmark measures the packed kernels); forward passes need not call it.
  virtual void finish_packing() const {}
  // Locks every weight the forward pass reads in memory (--mlock); returns the bytes locked.
  virtual int64_t lock_weights() const { return 0; }

  virtual std::unique_ptr<ForwardScratch> make_scratch(int64_t max_batch_tokens) const = 0;

  // Computes every position of `batch`, writing their keys and values into `kv`, and
  // writes logits (n_vocab floats per row) for the rows that want them, in batch order.
  virtual void forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch, ThreadPool& pool,
                       float* logits) const = 0;

 protected:
  explicit Transformer(ModelConfig config) : config_(std::move(config)) {}
  ModelConfig config_;
};

}  // namespace loom
