// Beam search: num_beams sequences advance in lockstep; after each step the best
// num_beams continuations over all beams survive, their caches forked from their
// parents' (the prompt is computed once). A continuation that ends (end-of-generation or
// stop token) becomes a finished hypothesis scored sum(logprob) / length^length_penalty.
// Nothing streams while the search runs: each returned choice is one event at the end.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/request_state.h"
#include "grammar/grammar_processor.h"

namespace loom {

struct Beam {
  int64_t sequence = -1;
  std::vector<int32_t> tokens;  // generated
  double sum_logprob = 0;
  // This step's best continuations (token, logprob), taken when its logits arrived.
  std::vector<std::pair<int32_t, float>> candidates;
  bool has_candidates = false;
  std::unique_ptr<grammar::GrammarProcessor> grammar;  // this beam's constraint state
};

struct Hypothesis {
  std::vector<int32_t> tokens;  // generated, without the end token
  double sum_logprob = 0;
  double score = 0;
  FinishReason finish_reason = FinishReason::kLength;
};

class BeamRun final : public Job {
 public:
  BeamRun(RequestState request, const RunContext& context);

  int32_t slots() const override { return state_.slots; }
  int32_t reserved_slots() const override {
    return state_.slots - static_cast<int32_t>(beams_.size());
  }
  int64_t prompt_length() const override { return static_cast<int64_t>(state_.prompt.size()); }
  void start(Scheduler& scheduler) override;
  void on_output(int64_t sequence, const float* logits, int32_t n_rows) override;
  void on_error(std::string message) override;
  // Cut short by its deadline: the running beams become kLength hypotheses.
  void expire(double now) override;
  bool done() const override { return state_.done; }
  void release(Scheduler& scheduler) override;

 private:
  // Keeps the beam's best continuations; once every beam has them, takes the step.
  void beam_output(int64_t sequence, const float* logits);
  void beam_step();
  void finish();
  Completion build_completion();

  RequestState state_;
  const RunContext& context_;
  std::vector<Beam> beams_;
  std::vector<Hypothesis> finished_;
};

}  // namespace loom
