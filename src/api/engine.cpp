#include <algorithm>
#include <future>
#include <random>
#include <variant>

#include "api/engine_impl.h"
#include "api/request_validator.h"
#include "api/tool_call_grammar.h"
#include "core/error.h"
#include "core/timing.h"
#include "grammar/json_schema.h"

namespace loom {
namespace {

// The context a user gets without asking: the training context, capped so that a model
// trained on 128k positions does not reserve gigabytes of KV cache by default.
constexpr int64_t kDefaultContextCap = 4096;

DType kv_type_from(const std::string& name) {
  if (name == "f16") return DType::F16;
  if (name == "f32") return DType::F32;
  if (name == "q8_0") return DType::Q8_0;
  fail("KV cache type must be 'f16', 'f32' or 'q8_0', got '{}'", name);
}

// A draft model must speak the target's vocabulary: each of its token ids must be the
// same token text in the target (the target may have more, e.g. padding at the end).
void check_draft_vocabulary(const Model& target, const Model& draft) {
  if (draft.n_vocab() > target.n_vocab()) {
    fail(
        "the draft model's vocabulary ({} tokens) is larger than the target's ({}): a draft "
        "model must use the target's vocabulary",
        draft.n_vocab(), target.n_vocab());
  }
  for (int32_t t = 0; t < draft.n_vocab(); ++t) {
    if (draft.token_text(t) != target.token_text(t)) {
      fail(
          "the draft model's vocabulary differs from the target's: token {} is '{}' in the "
          "draft and '{}' in the target; a draft model must use the target's vocabulary",
          t, draft.token_text(t), target.token_text(t));
    }
  }
  if (draft.bos_token() != target.bos_token()) {
    fail("the draft model's BOS token ({}) differs from the target's ({})", draft.bos_token(),
         target.bos_token());
  }
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, const EngineOptions& options)
    : impl_(std::make_unique<Impl>()) {
  const Model::Impl& m = model->impl();
  if (options.threads < 0) fail("threads must be >= 0 (0 = one per core), got {}", options.threads);
  if (options.max_queue < 0) fail("max_queue must be >= 0, got {}", options.max_queue);
  EngineCoreOptions core_options;
  core_options.threads = options.threads;
  core_options.context = options.context > 0
                             ? options.context
                             : std::min(m.transformer->config().n_ctx_train, kDefaultContextCap);
  core_options.max_sequences = options.max_sequences;
  core_options.batch_tokens = options.batch_tokens;
  core_options.kv_type = kv_type_from(options.kv_type);
  core_options.kv_tokens = options.kv_tokens;
  core_options.prefix_cache = options.prefix_cache;
  if (options.draft_model) {
    if (options.draft != "" && options.draft != "model") {
      fail("draft must be '' or 'model' when a draft model is given, got '{}'", options.draft);
    }
    check_draft_vocabulary(*model, *options.draft_model);
  } else if (options.draft != "" && options.draft != "none" && options.draft != "ngram") {
    fail("draft must be 'ngram' or 'none', got '{}'", options.draft);
  }
  if (options.draft_max < 0) fail("draft_max must be >= 0, got {}", options.draft_max);
  if (options.draft_min < 0 || options.draft_min > options.draft_max) {
    fail("draft_min must be between 0 and draft_max ({}), got {}", options.draft_max,
         options.draft_min);
  }
  const bool drafts = options.draft_model || options.draft == "ngram";
  if (drafts && options.draft_max >= options.batch_tokens) {
    fail(
        "draft_max ({}) must be less than batch_tokens ({}): a step verifies a draft and the "
        "token before it together",
        options.draft_max, options.batch_tokens);
  }
  core_options.max_draft = drafts ? options.draft_max : 0;
  impl_->core = std::make_unique<EngineCore>(m.transformer, core_options);
  if (options.draft_model) {
    impl_->draft_model =
        std::make_unique<DraftModel>(options.draft_model->impl().transformer, core_options);
  }
  impl_->tokenizer = m.tokenizer.get();
  for (int32_t t = 0; t < m.tokenizer->n_vocab(); ++t) {
    if (m.tokenizer->is_end_of_generation(t)) impl_->end_of_generation.push_back(t);
  }
  impl_->options = options;
  impl_->options.context = core_options.context;
  impl_->model = std::move(model);
  impl_->free_slots_snapshot = impl_->core->free_slots();
  impl_->loop_thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  impl_->loop_thread.join();
}

int64_t Engine::context() const {
  return impl_->core->context();
}
int Engine::threads() const {
  return impl_->core->threads();
}
const EngineOptions& Engine::options() const {
  return impl_->options;
}

RequestId Engine::submit(Request request, RequestCallbacks callbacks) {
  Impl& e = *impl_;
  const Tokenizer& tokenizer = *e.tokenizer;
  auto r = std::make_unique<RequestState>();
  r->submit_time = now_seconds();

  const int32_t engine_draft =
      e.options.draft == "ngram" || e.options.draft_model ? e.options.draft_max : 0;
  const RequestLimits limits{.n_vocab = tokenizer.n_vocab(),
                             .draft_max = engine_draft,
                             .max_sequences = e.core->max_sequences(),
                             .context = context()};
  validate_request(request, limits);
  r->draft_max = request.num_beams > 0 ? 0 : request.draft_max.value_or(engine_draft);
  r->grammar = compile_constraint(request);
  const uint64_t seed = request.sampling.seed ? *request.sampling.seed : std::random_device{}();
  r->params = sampling_params(request.sampling, seed);
  r->prompt = request.prompt_tokens.empty()
                  ? tokenizer.encode(request.prompt, request.add_special, request.parse_special)
                  : request.prompt_tokens;
  validate_prompt(r->prompt, request, limits);
  r->samples = std::max(request.n, request.best_of);
  r->slots = request.num_beams > 0 ? request.num_beams : r->samples;
  try {
    e.core->check_fits(static_cast<int64_t>(r->prompt.size()), r->slots);
  } catch (const Error& error) {
    throw FieldError("prompt", error.what());
  }
  if (!request.ignore_eos) {
    r->stop_tokens = e.end_of_generation;
  }
  r->stop_tokens.insert(r->stop_tokens.end(), request.stop_tokens.begin(),
                        request.stop_tokens.end());
  r->timings.prompt_tokens = static_cast<int64_t>(r->prompt.size());
  if (request.timeout) r->deadline = r->submit_time + *request.timeout;
  r->request = std::move(request);
  r->callbacks = std::make_shared<const RequestCallbacks>(std::move(callbacks));

  RequestId id;
  {
    std::lock_guard lock(e.mutex);
    if (static_cast<int32_t>(e.queue.size()) >= e.options.max_queue &&
        e.free_slots_snapshot < r->slots) {
      throw QueueFullError(fmt::format(
          "the server is busy: {} requests are waiting for a free sequence; try again later",
          e.queue.size()));
    }
    id = e.next_id++;
    r->id = id;
    e.queue.push_back(std::move(r));
  }
  e.wake.notify_all();
  return id;
}

void Engine::cancel(RequestId id) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->cancelled.insert(id);
  }
  impl_->wake.notify_all();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->mutex);
  EngineStats s;
  s.max_sequences = impl_->core->max_sequences();
  s.running = impl_->running_snapshot;
  s.waiting = static_cast<int32_t>(impl_->queue.size());
  s.kv_capacity_tokens = impl_->core->kv_capacity_tokens();
  // The pool is fixed at construction, so reading its size needs no step to finish.
  s.kv_bytes_per_token =
      s.kv_capacity_tokens > 0 ? impl_->core->kv_cache().bytes() / s.kv_capacity_tokens : 0;
  s.kv_used_tokens = impl_->kv_used_snapshot;
  s.kv_cached_tokens = impl_->kv_cached_snapshot;
  s.prefix_cache_queried_tokens = impl_->prefix_cache_snapshot.queried_tokens;
  s.prefix_cache_hit_tokens = impl_->prefix_cache_snapshot.hit_tokens;
  s.prompt_tokens_total = impl_->counters_snapshot.prompt_positions;
  s.generated_tokens_total = impl_->counters_snapshot.generated_positions;
  s.requests_finished = impl_->requests_finished;
  return s;
}

Completion Engine::generate(const Request& request,
                            const std::function<void(const TokenEvent&)>& on_token) {
  // The error travels as text and is thrown here: an exception_ptr made on the loop thread
  // and released there races (for ThreadSanitizer) with the rethrow on this one.
  std::promise<std::variant<Completion, std::string>> done;
  auto result = done.get_future();
  RequestCallbacks callbacks;
  callbacks.on_token = on_token;
  callbacks.on_done = [&done](Completion c) { done.set_value(std::move(c)); };
  callbacks.on_error = [&done](const std::string& message) { done.set_value(message); };
  submit(request, std::move(callbacks));
  auto outcome = result.get();
  if (auto* message = std::get_if<std::string>(&outcome)) throw Error(*message);
  return std::get<Completion>(std::move(outcome));
}

std::vector<float> Engine::evaluate(std::span<const int32_t> tokens) {
  std::vector<float> logits(tokens.size() * impl_->core->config().n_vocab);
  std::lock_guard lock(impl_->core_mutex);
  impl_->core->evaluate(tokens, logits.data());
  return logits;
}

// ---- the loop ----------------------------------------------------------------------------

void Engine::Impl::loop() {
  for (;;) {
    std::set<RequestId> to_cancel;
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [&] {
        // The slot count as of the last step: evaluate() may hold a slot on another thread.
        return stop || !cancelled.empty() || (!queue.empty() && free_slots_snapshot > 0) ||
               core->has_pending();
      });
      if (stop) break;
      to_cancel.swap(cancelled);
      for (RequestId id : to_cancel) {  // still queued: just forget it
        queue.erase(
            std::remove_if(queue.begin(), queue.end(), [&](const auto& r) { return r->id == id; }),
            queue.end());
      }
    }
    step_locked(to_cancel);
    run_deferred();
  }
  std::lock_guard core_lock(core_mutex);
  while (!active.empty()) drop(*active.begin()->second);
}

void Engine::Impl::step_locked(const std::set<RequestId>& to_cancel) {
  std::lock_guard core_lock(core_mutex);
  for (RequestId id : to_cancel) {
    auto it = active.find(id);
    if (it != active.end()) drop(*it->second);
  }
  {
    std::lock_guard lock(mutex);
    admit_locked();
  }
  expire_overdue();
  if (core->has_pending()) {
    const double step_start = now_seconds();
    const std::span<const EngineCore::Output> outputs = core->step();
    record_step(core->last_step_positions(), now_seconds() - step_start);
    for (const EngineCore::Output& out : outputs) {
      auto it = by_sequence.find(out.sequence_id);
      if (it == by_sequence.end()) continue;
      RequestState& r = *it->second;
      if (r.done) continue;
      if (!out.error.empty()) {  // the KV cache is full: the request ends with an error
        error_event(r, out.error);
        r.done = true;
        continue;
      }
      try {
        handle_output(r, out.sequence_id, out.logits, out.n_rows);
      } catch (const std::exception& ex) {
        error_event(r, ex.what());
        r.done = true;
      }
    }
  }
  if (!draft_requests.empty()) run_draft_model();
  for (auto it = active.begin(); it != active.end();) {
    if (it->second->done) {
      drop(*it->second);
      it = active.begin();
    } else {
      ++it;
    }
  }
  std::lock_guard lock(mutex);
  running_snapshot = core->n_sequences();
  free_slots_snapshot = core->free_slots();
  kv_used_snapshot = core->kv_used_tokens();
  kv_cached_snapshot = core->kv_cached_tokens();
  prefix_cache_snapshot = core->prefix_cache_counters();
  counters_snapshot = core->counters();
}

void Engine::Impl::expire_overdue() {
  // Checked once per step: a request ends at most one step after its deadline. One still
  // queued when it passes ends as soon as it is admitted, without a token.
  const double now = now_seconds();
  for (auto& [id, r] : active) {
    if (r->done || r->deadline == 0 || now < r->deadline) continue;
    r->timed_out = true;
    if (r->beam_search()) {
      expire_beams(*r);
      continue;
    }
    for (auto& c : r->choices) {
      if (c->finished) continue;
      c->result.timed_out = true;
      end_choice(*r, *c, FinishReason::kLength);
    }
  }
}

void Engine::Impl::token_event(const RequestState& r, TokenEvent event) {
  if (!r.callbacks->on_token) return;
  deferred.emplace_back(
      [callbacks = r.callbacks, event = std::move(event)] { callbacks->on_token(event); });
}

void Engine::Impl::error_event(const RequestState& r, std::string message) {
  if (!r.callbacks->on_error) return;
  deferred.emplace_back(
      [callbacks = r.callbacks, message = std::move(message)] { callbacks->on_error(message); });
}

void Engine::Impl::run_deferred() {
  std::vector<std::function<void()>> calls;
  calls.swap(deferred);
  for (auto& call : calls) call();
}

void Engine::Impl::record_step(int64_t positions, double seconds) {
  if (positions <= 0) return;
  if (static_cast<int64_t>(step_seconds.size()) <= positions) step_seconds.resize(positions + 1);
  double& fastest = step_seconds[positions];
  // The fastest seen: on a busy machine the noise only ever adds time.
  fastest = fastest == 0 ? seconds : std::min(fastest, seconds);
}

double Engine::Impl::step_cost(int64_t positions) const {
  return positions < static_cast<int64_t>(step_seconds.size()) ? step_seconds[positions] : 0;
}

void Engine::Impl::admit_locked() {
  // First come, first served: a request that needs more free sequences (or KV blocks)
  // than there are waits at the head of the queue. Slots that running requests will fork
  // into (their other samples, more beams) are kept for them.
  int32_t reserved = 0;
  for (const auto& [id, r] : active) {
    if (r->done) continue;
    if (r->beam_search()) {
      reserved += r->slots - static_cast<int32_t>(r->beams.size());
    } else if (!r->forked) {
      reserved += r->slots - 1;
    }
  }
  while (!queue.empty() && core->can_admit(static_cast<int64_t>(queue.front()->prompt.size()),
                                           queue.front()->slots, reserved)) {
    std::unique_ptr<RequestState> r = std::move(queue.front());
    queue.pop_front();
    RequestState& state = *r;
    active[state.id] = std::move(r);
    reserved += state.slots - 1;
    try {
      start(state);
    } catch (const std::exception& ex) {
      error_event(state, ex.what());
      state.done = true;
    }
  }
}

void Engine::Impl::start(RequestState& r) {
  r.start_time = now_seconds();
  r.timings.queue_s = r.start_time - r.submit_time;
  r.start_steps = core->counters().steps;
  r.primary = core->add_sequence(r.prompt, r.request.max_tokens);
  by_sequence[r.primary] = &r;
  r.timings.cached_prompt_tokens = core->sequence(r.primary).n_cached;
  r.timings.prompt_evaluations = 1;
  if (r.beam_search()) {
    Beam first;
    first.sequence = r.primary;
    if (r.grammar) first.grammar = grammar::make_grammar_processor(r.grammar, *tokenizer);
    r.beams.push_back(std::move(first));
    return;
  }
  for (int32_t i = 0; i < r.samples; ++i) {
    SamplingParams params = r.params;
    params.seed = r.params.seed + static_cast<uint64_t>(i);  // each sample its own stream
    auto choice = std::make_unique<ChoiceState>(i, params, *tokenizer, r.request.stop);
    choice->sampler.set_prompt(r.prompt);
    if (r.request.min_tokens > 0) choice->sampler.set_banned(r.stop_tokens);
    if (r.grammar)
      choice->sampler.add_constraint(make_grammar_constraint(r.grammar, *tokenizer, r.request));
    if (draft_model && r.draft_max > 0) {
      // The draft samples as the request does, minus the penalties (which need the
      // history); the acceptance rule corrects for whatever differs.
      SamplingParams draft = params;
      draft.repetition_penalty = 1.0f;
      draft.presence_penalty = 0.0f;
      draft.frequency_penalty = 0.0f;
      draft.seed = params.seed ^ 0x9e3779b97f4a7c15ull;
      choice->draft_sampler = std::make_unique<Sampler>(draft);
    }
    r.choices.push_back(std::move(choice));
  }
  r.choices[0]->sequence = r.primary;
  if (r.request.max_tokens == 0) {  // nothing to generate: the prompt is not even computed
    for (auto& c : r.choices) end_choice(r, *c, FinishReason::kLength);
  }
}

void Engine::Impl::handle_output(RequestState& r, int64_t sequence, const float* logits,
                                 int32_t n_rows) {
  const double now = now_seconds();
  if (r.first_token_time == 0) {
    r.first_token_time = now;
    r.timings.prefill_steps = core->counters().steps - r.start_steps;
  }
  r.last_token_time = now;
  if (r.beam_search()) {
    beam_output(r, sequence, logits);
    return;
  }
  if (!r.forked) {
    // The prompt is computed once; every other sample starts from a copy of its cache.
    r.forked = true;
    for (size_t i = 1; i < r.choices.size(); ++i) {
      r.choices[i]->sequence = core->fork_sequence(r.primary);
      by_sequence[r.choices[i]->sequence] = &r;
    }
    for (auto& c : r.choices) sample_choice(r, *c, logits);
    return;
  }
  for (auto& c : r.choices) {
    if (c->sequence == sequence) {
      sample_choice(r, *c, logits, n_rows);
      return;
    }
  }
}

void Engine::Impl::drop(RequestState& r) {
  for (auto& c : r.choices) {
    if (c->sequence >= 0) {
      by_sequence.erase(c->sequence);
      forget_draft(c->sequence);
      core->remove_sequence(c->sequence);
    }
  }
  for (Beam& b : r.beams) {
    if (b.sequence >= 0) {
      by_sequence.erase(b.sequence);
      core->remove_sequence(b.sequence);
    }
  }
  if (r.primary >= 0) {
    by_sequence.erase(r.primary);
    core->remove_sequence(r.primary);
  }
  const RequestId id = r.id;
  active.erase(id);
  std::lock_guard lock(mutex);
  ++requests_finished;
}

void Engine::Impl::finish_request(RequestState& r) {
  r.done = true;
  Completion c = r.beam_search() ? beam_completion(r) : sampling_completion(r);
  c.seed = r.params.seed;
  Timings& t = r.timings;
  t.generated_tokens = r.generated;
  if (r.first_token_time > 0) {
    t.time_to_first_token_s = r.first_token_time - r.submit_time;
    const double prefill_s = r.first_token_time - r.start_time;
    const auto computed = static_cast<double>(t.prompt_tokens - t.cached_prompt_tokens);
    t.prefill_tokens_per_s = prefill_s > 0 ? computed / prefill_s : 0;
    t.decode_s = r.last_token_time - r.first_token_time;
    const int64_t per_choice = r.generated / std::max<int64_t>(1, r.slots);
    if (per_choice > 1 && t.decode_s > 0) t.decode_tokens_per_s = (per_choice - 1) / t.decode_s;
  }
  c.timings = t;
  if (r.callbacks->on_done) {
    deferred.emplace_back([callbacks = r.callbacks, c = std::move(c)]() mutable {
      callbacks->on_done(std::move(c));
    });
  }
}

}  // namespace loom
