// The engine behind the public loom::Engine: a thread that runs the step loop over every
// request in flight (continuous batching), a bounded queue of requests waiting for free
// sequences, and the per-request logic that turns logits into choices.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "api/model_impl.h"
#include "api/request_state.h"
#include "runtime/draft_model.h"
#include "runtime/engine_core.h"

namespace loom {

struct Engine::Impl {
  std::shared_ptr<const Model> model;
  const Tokenizer* tokenizer = nullptr;
  std::vector<int32_t> end_of_generation;  // the vocabulary's EOG tokens, found once
  EngineOptions options;
  std::unique_ptr<EngineCore> core;
  // Speculative decoding with a draft model (null otherwise), and the choices that asked
  // it for a proposal during this step's sampling (loop thread only).
  std::unique_ptr<DraftModel> draft_model;
  std::vector<std::pair<RequestState*, ChoiceState*>> draft_requests;

  std::mutex mutex;  // guards queue, cancelled, stop, counters below
  std::condition_variable wake;
  std::deque<std::unique_ptr<RequestState>> queue;
  std::set<RequestId> cancelled;
  bool stop = false;
  RequestId next_id = 1;
  int64_t requests_finished = 0;
  // Copies of the core's state for other threads, taken by the loop thread under `mutex`
  // (the core itself is only touched by the thread holding core_mutex).
  int32_t running_snapshot = 0;
  int32_t free_slots_snapshot = 0;
  int64_t kv_used_snapshot = 0;
  int64_t kv_cached_snapshot = 0;
  StepCounters counters_snapshot;  // the core's, copied after each step
  PrefixCacheCounters prefix_cache_snapshot;

  std::mutex core_mutex;  // held while the core steps or evaluates
  std::map<RequestId, std::unique_ptr<RequestState>> active;  // loop thread only
  std::map<int64_t, RequestState*> by_sequence;               // loop thread only
  std::thread loop_thread;
  // User callbacks of this iteration, run in order once the loop holds no lock (so a
  // callback may call into the engine). Loop thread only.
  std::vector<std::function<void()>> deferred;
  void token_event(const RequestState& r, TokenEvent event);
  void error_event(const RequestState& r, std::string message);
  void run_deferred();
  // Seconds a step of n positions takes (the fastest seen; 0 = not seen yet), by n: what
  // a draft of k tokens costs against decoding one token. Loop thread only.
  std::vector<double> step_seconds;
  void record_step(int64_t positions, double seconds);
  double step_cost(int64_t positions) const;

  void loop();
  // One iteration's work under core_mutex: cancellations, admissions, a step, its outputs.
  void step_locked(const std::set<RequestId>& to_cancel);
  void admit_locked();
  void start(RequestState& r);
  void handle_output(RequestState& r, int64_t sequence, const float* logits, int32_t n_rows);
  void finish_request(RequestState& r);
  // Ends every running request whose Request::timeout has passed (before a step).
  void expire_overdue();
  void drop(RequestState& r);

  // Sampling mode (n, best_of): request_sampling.cpp.
  // Samples the choice's next token from each logits row in turn, keeping draft tokens
  // while they are what was sampled; then proposes the next draft.
  void sample_choice(RequestState& r, ChoiceState& c, const float* logits, int32_t n_rows = 1);
  // Samples, records and streams one token; false when the choice ended with it.
  // At a drafted position, `draft` is the proposal and q its draft distribution (empty
  // when the draft was not sampled); the token is then chosen by Sampler::verify.
  bool take_token(RequestState& r, ChoiceState& c, const float* logits, int32_t& token,
                  int32_t draft = -1, std::span<const float> q = {});
  void propose_draft(RequestState& r, ChoiceState& c);
  // Runs the draft model for every choice in draft_requests, all in one batch per draft
  // position, and hands each proposal to the runtime.
  void run_draft_model();
  // Forgets the draft model's copy of a sequence that ended.
  void forget_draft(int64_t sequence);
  void end_choice(RequestState& r, ChoiceState& c, FinishReason reason);
  Completion sampling_completion(RequestState& r);
  // Beam search: beam_search.cpp.
  void beam_output(RequestState& r, int64_t sequence, const float* logits);
  void beam_step(RequestState& r);
  Completion beam_completion(RequestState& r);
  // Beam search cut short by its deadline: the running beams become kLength hypotheses.
  void expire_beams(RequestState& r);
};

}  // namespace loom
