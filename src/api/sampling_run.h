// Sampling mode (n, best_of): the prompt is computed once in one sequence, then forked
// into one sequence per sample; each choice samples with its own seed stream and is
// streamed token by token with stop strings and logprobs (best_of > n streams nothing and
// picks the n best at the end). With speculative decoding a choice carries draft tokens
// (n-grams, or a draft model's through DraftPass) that the next step verifies.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "api/request_state.h"
#include "api/stop_matcher.h"
#include "sampling/sampler.h"
#include "tokenizer/incremental_detokenizer.h"

namespace loom {

struct ChoiceState {
  ChoiceState(int32_t index, const SamplingParams& params, const Tokenizer& tokenizer,
              std::vector<std::string> stops)
      : sampler(params), detokenizer(tokenizer), stop(std::move(stops)) {
    result.index = index;
  }

  int64_t sequence = -1;  // in the runtime; -1 before the prompt is computed / after the end
  Sampler sampler;
  IncrementalDetokenizer detokenizer;
  StopMatcher stop;
  Choice result;
  bool finished = false;
  int32_t draft_length = 0;  // tokens to propose next (adapts to how many are accepted)
  int64_t draft_proposed = 0, draft_kept = 0;  // this choice's drafts so far
  // With a draft model: its sampler (the request's settings without the history-dependent
  // penalties, its own random stream), how many tokens it is to propose this step, and
  // the distributions it drew them from, (n_draft, n_vocab), empty for greedy drafts.
  std::unique_ptr<Sampler> draft_sampler;
  int32_t draft_wanted = 0;
  std::vector<int32_t> draft_tokens;
  std::vector<float> draft_q;
};

class SamplingRun final : public Job {
 public:
  // samples: max(n, best_of); draft_max: most draft tokens per step, 0 = no drafts.
  SamplingRun(RequestState request, int32_t samples, int32_t draft_max, const RunContext& context);

  int32_t slots() const override { return state_.slots; }
  int32_t reserved_slots() const override { return forked_ ? 0 : state_.slots - 1; }
  int64_t prompt_length() const override { return static_cast<int64_t>(state_.prompt.size()); }
  void start(Scheduler& scheduler) override;
  void on_output(int64_t sequence, const float* logits, int32_t n_rows) override;
  void on_error(std::string message) override;
  void expire(double now) override;
  bool done() const override { return state_.done; }
  void release(Scheduler& scheduler) override;

 private:
  // Samples the choice's next token from each logits row in turn, keeping draft tokens
  // while they are what was sampled; then proposes the next draft.
  void sample_choice(ChoiceState& c, const float* logits, int32_t n_rows = 1);
  // Samples, records and streams one token; false when the choice ended with it.
  // At a drafted position, `draft` is the proposal and q its draft distribution (empty
  // when the draft was not sampled); the token is then chosen by Sampler::verify.
  bool take_token(ChoiceState& c, const float* logits, int32_t& token, int32_t draft = -1,
                  std::span<const float> q = {});
  void propose_draft(ChoiceState& c);
  void end_choice(ChoiceState& c, FinishReason reason);
  // Removes a choice's sequence from the runtime (and the draft model's copy of it).
  void remove_sequence(int64_t sequence);
  Completion build_completion();

  RequestState state_;
  const RunContext& context_;
  int32_t samples_ = 1;
  int32_t draft_max_ = 0;
  bool forked_ = false;  // the prompt's sequence was forked into one per sample
  std::vector<std::unique_ptr<ChoiceState>> choices_;
};

}  // namespace loom
