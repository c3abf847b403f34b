#include <algorithm>
#include <future>
#include <random>
#include <variant>

#include "api/beam_run.h"
#include "api/engine_impl.h"
#include "api/request_validator.h"
#include "api/sampling_run.h"
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
    impl_->drafts = std::make_unique<DraftPass>(
        std::make_unique<DraftModel>(options.draft_model->impl().transformer, core_options));
  }
  impl_->tokenizer = m.tokenizer.get();
  for (int32_t t = 0; t < m.tokenizer->n_vocab(); ++t) {
    if (m.tokenizer->is_end_of_generation(t)) impl_->end_of_generation.push_back(t);
  }
  impl_->options = options;
  impl_->options.context = core_options.context;
  impl_->model = std::move(model);
  impl_->context = {
      .tokenizer = impl_->tokenizer, .drafts = impl_->drafts.get(), .draft_min = options.draft_min};
  SchedulerOptions scheduler_options;
  scheduler_options.max_queue = options.max_queue;
  if (impl_->drafts) {
    scheduler_options.after_step = [impl = impl_.get()] {
      impl->drafts->run(*impl->core, impl->tokenizer->n_vocab());
    };
  }
  impl_->scheduler = std::make_unique<Scheduler>(*impl_->core, std::move(scheduler_options));
}

Engine::~Engine() {
  impl_->scheduler.reset();  // stops the loop while the core and the runs' context live
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
  RequestState r;
  r.submit_time = now_seconds();

  const int32_t engine_draft =
      e.options.draft == "ngram" || e.options.draft_model ? e.options.draft_max : 0;
  const RequestLimits limits{.n_vocab = tokenizer.n_vocab(),
                             .draft_max = engine_draft,
                             .max_sequences = e.core->max_sequences(),
                             .context = context()};
  validate_request(request, limits);
  const int32_t draft_max = request.num_beams > 0 ? 0 : request.draft_max.value_or(engine_draft);
  r.grammar = compile_constraint(request);
  const uint64_t seed = request.sampling.seed ? *request.sampling.seed : std::random_device{}();
  r.params = sampling_params(request.sampling, seed);
  r.prompt = request.prompt_tokens.empty()
                 ? tokenizer.encode(request.prompt, request.add_special, request.parse_special)
                 : request.prompt_tokens;
  validate_prompt(r.prompt, request, limits);
  const int32_t samples = std::max(request.n, request.best_of);
  r.slots = request.num_beams > 0 ? request.num_beams : samples;
  try {
    e.core->check_fits(static_cast<int64_t>(r.prompt.size()), r.slots);
  } catch (const Error& error) {
    throw FieldError("prompt", error.what());
  }
  if (!request.ignore_eos) {
    r.stop_tokens = e.end_of_generation;
  }
  r.stop_tokens.insert(r.stop_tokens.end(), request.stop_tokens.begin(), request.stop_tokens.end());
  r.timings.prompt_tokens = static_cast<int64_t>(r.prompt.size());
  if (request.timeout) r.deadline = r.submit_time + *request.timeout;
  const bool beam_search = request.num_beams > 0;
  r.request = std::move(request);
  r.callbacks = std::make_shared<const RequestCallbacks>(std::move(callbacks));

  std::unique_ptr<Job> job;
  if (beam_search) {
    job = std::make_unique<BeamRun>(std::move(r), e.context);
  } else {
    job = std::make_unique<SamplingRun>(std::move(r), samples, draft_max, e.context);
  }
  const Scheduler::Submitted submitted = e.scheduler->submit(std::move(job));
  if (submitted.id == 0) {
    throw QueueFullError(fmt::format(
        "the server is busy: {} requests are waiting for a free sequence; try again later",
        submitted.waiting));
  }
  return static_cast<RequestId>(submitted.id);
}

void Engine::cancel(RequestId id) {
  impl_->scheduler->cancel(static_cast<int64_t>(id));
}

EngineStats Engine::stats() const {
  const SchedulerSnapshot snapshot = impl_->scheduler->snapshot();
  EngineStats s;
  s.max_sequences = impl_->core->max_sequences();
  s.running = snapshot.running;
  s.waiting = snapshot.waiting;
  s.kv_capacity_tokens = impl_->core->kv_capacity_tokens();
  // The pool is fixed at construction, so reading its size needs no step to finish.
  s.kv_bytes_per_token =
      s.kv_capacity_tokens > 0 ? impl_->core->kv_cache().bytes() / s.kv_capacity_tokens : 0;
  s.kv_used_tokens = snapshot.kv_used_tokens;
  s.kv_cached_tokens = snapshot.kv_cached_tokens;
  s.prefix_cache_queried_tokens = snapshot.prefix_cache.queried_tokens;
  s.prefix_cache_hit_tokens = snapshot.prefix_cache.hit_tokens;
  s.prompt_tokens_total = snapshot.counters.prompt_positions;
  s.generated_tokens_total = snapshot.counters.generated_positions;
  s.requests_finished = snapshot.jobs_finished;
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
  impl_->scheduler->evaluate(tokens, logits.data());
  return logits;
}

}  // namespace loom
