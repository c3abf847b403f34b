// What the engine keeps for one request in flight: its choices (each a sequence in the
// runtime with its own sampler, detokenizer and stop matcher) or its beams.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "api/stop_matcher.h"
#include "grammar/compiled_grammar.h"
#include "grammar/grammar_processor.h"
#include "loom/loom.h"
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

struct RequestState {
  RequestId id = 0;
  Request request;
  // Shared with the calls queued for after the step (Engine::Impl::deferred), which may
  // run after the request is gone.
  std::shared_ptr<const RequestCallbacks> callbacks;
  std::vector<int32_t> prompt;
  SamplingParams params;             // seed already chosen
  int32_t slots = 1;                 // sequences the request needs at its peak
  int32_t samples = 1;               // max(n, best_of) in sampling mode
  std::vector<int32_t> stop_tokens;  // end-of-generation tokens (unless ignore_eos) + stop ids
  std::shared_ptr<const grammar::CompiledGrammar> grammar;  // the output constraint, if any
  int64_t primary = -1;                                     // the sequence that computes the prompt
  bool forked = false;
  std::vector<std::unique_ptr<ChoiceState>> choices;
  std::vector<Beam> beams;
  std::vector<Hypothesis> finished_beams;
  Timings timings;
  double submit_time = 0, start_time = 0, first_token_time = 0, last_token_time = 0;
  int64_t start_steps = 0;  // the runtime's step counter when the request started
  int64_t generated = 0;
  int32_t draft_max = 0;  // speculative decoding: most draft tokens per step, 0 = off
  double deadline = 0;    // now_seconds() at which Request::timeout passes; 0 = none
  bool timed_out = false;
  bool done = false;

  bool beam_search() const { return request.num_beams > 0; }
};

}  // namespace loom
