// The step loop's core: keeps the sequences in the KV cache, builds each step's batch
// from the positions they have not computed yet (a prompt's prefill in chunks, or one
// decode position), and runs the model. Prefill and decode are the same operation.
// A sequence whose last position was computed gets its logits row in the step's output;
// the caller samples and appends the next token (or ends the sequence).
//
// KV memory: the paged cache holds a token budget shared by all sequences (by default
// max_sequences x context, so every sequence can always reach the full context). Blocks
// are taken as sequences grow; forks share the parent's blocks. With a smaller budget,
// can_admit() holds new requests back while the cache is short, and a sequence that
// cannot grow at all is failed with an error in the step's output.
//
// Prefix caching (runtime/prefix_cache.h): a new sequence starts from the cached blocks
// that hold its first tokens; blocks only the cache holds count as free and are evicted
// when a sequence needs room.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/transformer.h"
#include "runtime/prefix_cache.h"
#include "runtime/sequence.h"

namespace loom {

struct EngineCoreOptions {
  int threads = 0;             // 0 = one per core
  int64_t context = 0;         // positions per sequence; 0 = the model's training context
  int32_t max_sequences = 1;   // sequences held at once (KV slots)
  int64_t batch_tokens = 512;  // most positions computed in one step
  DType kv_type = DType::F16;  // F16, F32 or Q8_0
  int64_t kv_tokens = 0;       // KV cache budget in positions; 0 = max_sequences x context
  int32_t max_draft = 0;       // most draft tokens a sequence may carry into one step
  bool prefix_cache = true;    // reuse full KV blocks of earlier sequences' equal prefixes
};

struct StepCounters {
  int64_t steps = 0;
  int64_t prompt_positions = 0;     // prompt positions computed (prefill work)
  int64_t generated_positions = 0;  // generated positions computed (decode work)
};

class EngineCore {
 public:
  struct Output {
    int64_t sequence_id;
    // (n_rows, n_vocab): the next token's distribution after each of the sequence's last
    // n_rows positions (1 + its draft tokens); valid until the next step.
    const float* logits;
    // Non-empty when the sequence could not advance (the KV cache is full); logits is
    // null. The caller should end the sequence.
    std::string error;
    int32_t n_rows = 1;
  };

  EngineCore(std::shared_ptr<const Transformer> model, const EngineCoreOptions& options);
  ~EngineCore();

  const ModelConfig& config() const { return model_->config(); }
  int64_t context() const { return context_; }
  int32_t max_sequences() const { return static_cast<int32_t>(slot_busy_.size()); }
  int threads() const { return pool_.size(); }
  const StepCounters& counters() const { return counters_; }
  int64_t last_step_positions() const { return batch_.size(); }  // computed by the last step
  int32_t free_slots() const;
  int32_t n_sequences() const { return static_cast<int32_t>(sequences_.size()); }
  // KV cache positions held by sequences (blocks x block size; not those only the prefix
  // cache holds), and in all.
  int64_t kv_used_tokens() const {
    return (kv_.n_used_blocks() - prefix_cache_.n_evictable(kv_)) * kv_.block_size();
  }
  // Positions held only by the prefix cache, reusable by a later sequence or evictable.
  int64_t kv_cached_tokens() const { return prefix_cache_.n_evictable(kv_) * kv_.block_size(); }
  const PrefixCacheCounters& prefix_cache_counters() const { return prefix_cache_.counters(); }
  // Forgets every cached prefix (blocks go back to the pool unless a sequence holds them).
  void clear_prefix_cache() { prefix_cache_.clear(kv_); }
  int64_t kv_capacity_tokens() const { return kv_.capacity_tokens(); }
  const KvCache& kv_cache() const { return kv_; }
  // Whether a request of `n_sequences` sequences with an `n_prompt`-token prompt may
  // start now: enough free slots and enough KV blocks beyond what the running sequences'
  // pending positions will take. reserved_slots: slots running requests will still take
  // (forks of n samples or beams not made yet).
  bool can_admit(int64_t n_prompt, int32_t n_sequences, int32_t reserved_slots = 0) const;
  // loom::Error when such a request could not start even with the cache empty.
  void check_fits(int64_t n_prompt, int32_t n_sequences) const;

  // Starts a sequence. loom::Error when the prompt is empty, a token id is out of range,
  // prompt plus max_new_tokens does not fit in the context, or every slot is busy.
  // The prompt's first full blocks come from the prefix cache when it holds them
  // (Sequence::n_cached); other KV blocks are taken later, as positions are computed.
  int64_t add_sequence(std::vector<int32_t> prompt, int64_t max_new_tokens);
  // A new sequence with a copy of `parent`'s tokens and cached positions (n samples or
  // beams share one prefill): it shares the parent's KV blocks, and either copies the
  // last, partly filled one only when it writes there. loom::Error when no slot is free.
  int64_t fork_sequence(int64_t parent);
  // Makes `target` a copy of `source` (tokens and cached positions, shared); both stay.
  void copy_sequence(int64_t source, int64_t target);
  void append_token(int64_t sequence_id, int32_t token);
  // Speculative decoding: appends proposed tokens after the sequence's last (sampled, not
  // yet computed) token; the next step computes them all and returns 1 + draft.size()
  // logits rows. At most max_draft of them, and only within the context.
  void add_draft(int64_t sequence_id, std::span<const int32_t> draft);
  // After verifying: keeps the first n_accepted draft tokens (their positions stay
  // computed) and rolls back the rest, with their KV positions.
  void accept_draft(int64_t sequence_id, int64_t n_accepted);
  // Rolls the sequence back to its first n_tokens tokens (not into the prompt's computed
  // positions' past: any n_tokens >= 1), dropping the KV positions after them.
  void truncate(int64_t sequence_id, int64_t n_tokens);
  void remove_sequence(int64_t sequence_id);
  const Sequence& sequence(int64_t sequence_id) const;
  bool has_pending() const;

  // One forward pass over pending positions. A sequence whose next positions find no
  // free KV blocks waits; if no sequence at all can advance, the newest one that is
  // stuck is reported with an error instead (see Output::error).
  std::span<const Output> step();

  // Logits of every position of `tokens`, computed from an empty cache (perplexity):
  // out receives (tokens.size(), n_vocab) floats. Needs a free slot.
  void evaluate(std::span<const int32_t> tokens, float* out);

 private:
  Sequence& find(int64_t sequence_id);
  int32_t take_slot();
  void release_out_of_window(int32_t slot, int64_t n_computed);
  int64_t kv_blocks_to_admit(int64_t n_prompt, int32_t n_sequences) const;
  int64_t kv_blocks_promised() const;
  // Most of the next `n` positions of `s` the free KV blocks can take (0 if none).
  int64_t positions_that_fit(const Sequence& s, int64_t n, int64_t available) const;
  // Free blocks plus those only the prefix cache holds.
  int64_t available_blocks() const;
  // Remembers the full blocks `s` has computed since the last call.
  void cache_full_blocks(Sequence& s);

  std::shared_ptr<const Transformer> model_;
  EngineCoreOptions options_;
  int64_t context_;
  ThreadPool pool_;
  KvCache kv_;
  PrefixCache prefix_cache_;
  std::unique_ptr<ForwardScratch> scratch_;
  std::vector<std::unique_ptr<Sequence>> sequences_;
  std::vector<uint8_t> slot_busy_;
  int64_t next_id_ = 1;
  StepCounters counters_;
  // Per-step working lists, kept as members so a step allocates nothing.
  Batch batch_;
  std::vector<Sequence*> order_;                         // least pending work first
  std::vector<std::pair<Sequence*, int64_t>> advanced_;  // sequences and positions computed
  std::vector<Output> outputs_;
  AlignedBuffer<float> logits_;  // (max_sequences, n_vocab)
};

}  // namespace loom
