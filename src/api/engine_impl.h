// The engine behind the public loom::Engine: it turns a Request into a job (validated,
// tokenized, its grammar compiled) and hands it to the runtime's Scheduler, which runs the
// step loop (continuous batching) and the queue. A job is a SamplingRun (n / best_of
// choices) or a BeamRun (beam search).
#pragma once

#include <memory>

#include "api/model_draft.h"
#include "api/model_impl.h"
#include "api/request_state.h"
#include "runtime/engine_core.h"
#include "runtime/scheduler.h"

namespace loom {

struct Engine::Impl {
  std::shared_ptr<const Model> model;
  const Tokenizer* tokenizer = nullptr;
  std::vector<int32_t> end_of_generation;  // the vocabulary's EOG tokens, found once
  EngineOptions options;
  std::unique_ptr<EngineCore> core;
  std::unique_ptr<DraftPass> drafts;  // speculative decoding with a draft model, or null
  RunContext context;                 // what the runs share
  // Declared last: stopped (its thread joined) before anything it uses goes away.
  std::unique_ptr<Scheduler> scheduler;
};

}  // namespace loom
