// The step loop: keeps the running sequences, builds each step's batch from the
// positions they have not computed yet (a prompt's prefill in chunks, or one decode
// position), runs the model, and samples for every sequence whose last position was
// computed. Prefill and decode are the same operation.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/transformer.h"
#include "runtime/sequence.h"

namespace loom {

struct EngineCoreOptions {
  int threads = 0;             // 0 = one per core
  int64_t context = 0;         // positions per sequence; 0 = the model's training context
  int32_t max_sequences = 1;   // sequences that can run at once (KV slots)
  int64_t batch_tokens = 512;  // most positions computed in one step
  DType kv_type = DType::F16;
};

struct StepCounters {
  int64_t steps = 0;
  int64_t prompt_positions = 0;     // prompt positions computed (prefill work)
  int64_t generated_positions = 0;  // generated positions computed (decode work)
};

class EngineCore {
 public:
  struct Sampled {
    int64_t sequence_id;
    int32_t token;
  };

  EngineCore(std::shared_ptr<const Transformer> model, const EngineCoreOptions& options);
  ~EngineCore();

  const ModelConfig& config() const { return model_->config(); }
  int64_t context() const { return kv_.capacity(); }
  int threads() const { return pool_.size(); }
  const StepCounters& counters() const { return counters_; }

  // Starts a sequence. loom::Error when the prompt is empty, when prompt plus
  // max_new_tokens does not fit in the context, when a token id is out of range, or when
  // every slot is busy.
  int64_t add_sequence(std::vector<int32_t> prompt, const SamplingParams& sampling,
                       int64_t max_new_tokens);
  // Ends a sequence and frees its slot.
  void remove_sequence(int64_t sequence_id);
  bool has_work() const { return !running_.empty(); }
  const Sequence& sequence(int64_t sequence_id) const;

  // One forward pass over pending positions; returns the tokens sampled in it (each
  // already appended to its sequence). The span is valid until the next step.
  std::span<const Sampled> step();

  // Logits of every position of `tokens`, computed from an empty cache (perplexity):
  // out receives (tokens.size(), n_vocab) floats. Needs a free slot.
  void evaluate(std::span<const int32_t> tokens, float* out);

 private:
  Sequence* find(int64_t sequence_id);
  int32_t take_slot();

  std::shared_ptr<const Transformer> model_;
  EngineCoreOptions options_;
  ThreadPool pool_;
  KvCache kv_;
  std::unique_ptr<ForwardScratch> scratch_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<uint8_t> slot_busy_;
  Batch batch_;
  // Per-step working lists, kept as members so a step allocates nothing.
  std::vector<Sequence*> batch_outputs_;  // sequence of each logits row of the batch
  std::vector<Sequence*> order_;          // running sequences, least pending work first
  std::vector<std::pair<Sequence*, int64_t>> advanced_;  // sequences and positions computed
  std::vector<Sampled> sampled_;
  AlignedBuffer<float> logits_;  // (max_sequences, n_vocab)
  int64_t next_id_ = 1;
  StepCounters counters_;
};

}  // namespace loom
