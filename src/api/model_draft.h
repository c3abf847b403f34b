// Speculative decoding with a draft model: after a step's tokens are sampled, the choices
// that asked for a draft (SamplingRun::propose_draft) are run through the draft model
// together, one batched draft step per proposed position, and each proposal goes to the
// runtime to be verified in the target's next step (SamplingRun::sample_choice).
// Loop thread only: the scheduler runs the pass after each step.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "runtime/draft_model.h"
#include "runtime/engine_core.h"

namespace loom {

struct ChoiceState;
struct RequestState;

class DraftPass {
 public:
  explicit DraftPass(std::unique_ptr<DraftModel> model) : model_(std::move(model)) {}

  // Seconds the draft model's fastest single-position step took (0: not measured yet).
  double decode_step_seconds() const { return model_->decode_step_seconds(); }
  // The choice wants c.draft_wanted proposals from this step's pass.
  void request(const RequestState& r, ChoiceState& c) { requests_.emplace_back(&r, &c); }
  // Forgets the draft model's copy of a sequence that ended.
  void forget(int64_t sequence) { model_->remove(sequence); }
  // Runs the draft model for every choice that asked, all in one batch per draft
  // position, and hands each proposal to `core`. n_vocab: the target's.
  void run(EngineCore& core, int32_t n_vocab);

 private:
  std::unique_ptr<DraftModel> model_;
  // The choices that asked for a proposal during this step (their requests live until
  // the step ends).
  std::vector<std::pair<const RequestState*, ChoiceState*>> requests_;
};

}  // namespace loom
