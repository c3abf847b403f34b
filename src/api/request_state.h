// What every request in flight keeps, whichever way it decodes (SamplingRun for n /
// best_of choices, BeamRun for beam search): the request, its prompt and stop tokens, its
// timings, and its user callbacks, which only ever run through Scheduler::defer (after the
// step, with no lock held).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "loom/loom.h"
#include "runtime/scheduler.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace loom {

class DraftPass;

// What the engine lends its runs (fixed at construction; used on the loop thread).
struct RunContext {
  const Tokenizer* tokenizer = nullptr;
  DraftPass* drafts = nullptr;  // speculative decoding with a draft model; null otherwise
  int32_t draft_min = 0;        // EngineOptions::draft_min
};

struct RequestState {
  Request request;
  // Shared with the calls deferred until after the step, which may run after the request
  // is gone.
  std::shared_ptr<const RequestCallbacks> callbacks;
  std::vector<int32_t> prompt;
  SamplingParams params;             // seed already chosen
  int32_t slots = 1;                 // sequences the request needs at its peak
  std::vector<int32_t> stop_tokens;  // end-of-generation tokens (unless ignore_eos) + stop ids
  std::shared_ptr<const grammar::CompiledGrammar> grammar;  // the output constraint, if any
  Scheduler* scheduler = nullptr;                           // set by start()
  int64_t primary = -1;                                     // the sequence that computes the prompt
  Timings timings;
  double submit_time = 0, start_time = 0, first_token_time = 0, last_token_time = 0;
  int64_t start_steps = 0;  // the runtime's step counter when the request started
  int64_t generated = 0;
  double deadline = 0;  // now_seconds() at which Request::timeout passes; 0 = none
  bool timed_out = false;
  bool done = false;

  // Admitted: adds the prompt's sequence, owned by `job`, and starts the clock.
  void start(Scheduler& s, Job& job);
  // Logits arrived for one of the request's sequences: the first and last token times.
  void note_output();
  bool overdue(double now) const { return deadline != 0 && now >= deadline; }
  // The callbacks, queued to run after the step.
  void token_event(TokenEvent event) const;
  void error_event(std::string message) const;
  // The request ends with `completion` (its choices): seed and timings are added and
  // on_done is queued. `done` must be set already.
  void finish(Completion completion);
  bool ends_generation(int32_t token) const;
};

}  // namespace loom
