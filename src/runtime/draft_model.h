// Speculative decoding with a small draft model: the draft keeps its own copy of each
// target sequence in a second engine core (its own KV cache and prefix cache) and runs a
// few positions ahead; the target then verifies the proposals in one step.
//
// The draft's copy is brought up to date before each proposal: the prefix it shares with
// the target's tokens stays computed, rejected proposals are rolled back, and the tokens
// the target accepted or sampled are appended (computed in the draft's next step, with the
// first proposal's logits).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "runtime/engine_core.h"

namespace loom {

class DraftModel {
 public:
  // options: as the target's (threads, context, sequences); max_draft says how far a copy
  // may have to roll back.
  DraftModel(std::shared_ptr<const Transformer> model, const EngineCoreOptions& options);

  int32_t n_vocab() const { return core_.config().n_vocab; }

  // Makes the draft's copy of target sequence `key` hold `tokens` (starting the copy
  // when there is none): keeps the common prefix, rolls back the rest, appends the new.
  void sync(int64_t key, std::span<const int32_t> tokens);
  // Appends a proposed token to the copy, to be computed by the next step.
  void append(int64_t key, int32_t token);
  void remove(int64_t key);

  struct Row {
    int64_t key;
    const float* logits;  // (n_vocab), valid until the next step
  };
  // Computes the pending positions of the given copies (prompt chunks take several core
  // steps) and returns the next-token logits of each. A copy that cannot advance (its KV
  // cache is full) is left out: that sequence just gets no draft this time.
  std::span<const Row> step(std::span<const int64_t> keys);

  // Seconds the fastest single-position draft step took (0: not measured yet).
  double decode_step_seconds() const { return decode_step_seconds_; }

 private:
  EngineCore core_;
  std::map<int64_t, int64_t> copies_;  // target sequence -> draft sequence
  std::vector<Row> rows_;
  std::vector<float> logits_;  // (keys, n_vocab): rows of copies that finished early
  double decode_step_seconds_ = 0;
};

}  // namespace loom
