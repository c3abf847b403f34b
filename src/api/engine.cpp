#include <algorithm>
#include <random>

#include "api/model_impl.h"
#include "core/error.h"
#include "core/timing.h"
#include "runtime/engine_core.h"
#include "tokenizer/incremental_detokenizer.h"

namespace loom {
namespace {

// The context a user gets without asking: the training context, capped so that a model
// trained on 128k positions does not reserve gigabytes of KV cache by default.
constexpr int64_t kDefaultContextCap = 4096;

DType kv_type_from(const std::string& name) {
  if (name == "f16") return DType::F16;
  if (name == "f32") return DType::F32;
  fail("KV cache type must be 'f16' or 'f32', got '{}'", name);
}

SamplingParams to_params(const SamplingOptions& o, uint64_t seed) {
  SamplingParams p;
  p.temperature = o.temperature;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.min_p = o.min_p;
  p.seed = seed;
  return p;
}

}  // namespace

struct Engine::Impl {
  std::shared_ptr<const Model> model;
  std::unique_ptr<EngineCore> core;
};

Engine::Engine(std::shared_ptr<const Model> model, const EngineOptions& options)
    : impl_(std::make_unique<Impl>()) {
  const Model::Impl& m = model->impl();
  EngineCoreOptions core_options;
  core_options.threads = options.threads;
  core_options.context = options.context > 0
                             ? options.context
                             : std::min(m.transformer->config().n_ctx_train, kDefaultContextCap);
  core_options.max_sequences = options.max_sequences;
  core_options.batch_tokens = options.batch_tokens;
  core_options.kv_type = kv_type_from(options.kv_type);
  if (options.threads < 0) fail("threads must be >= 0 (0 = one per core), got {}", options.threads);
  impl_->core = std::make_unique<EngineCore>(m.transformer, core_options);
  impl_->model = std::move(model);
}

Engine::~Engine() = default;

int64_t Engine::context() const {
  return impl_->core->context();
}
int Engine::threads() const {
  return impl_->core->threads();
}

Completion Engine::generate(const Request& request,
                            const std::function<void(const TokenEvent&)>& on_token) {
  const double start = now_seconds();
  const Tokenizer& tokenizer = *impl_->model->impl().tokenizer;
  EngineCore& core = *impl_->core;

  Completion result;
  result.seed = request.sampling.seed ? *request.sampling.seed : std::random_device{}();
  std::vector<int32_t> prompt =
      tokenizer.encode(request.prompt, request.add_special, request.parse_special);
  result.timings.prompt_tokens = static_cast<int64_t>(prompt.size());
  const int64_t prefill_steps_before = core.counters().steps;
  const int64_t id = core.add_sequence(std::move(prompt), to_params(request.sampling, result.seed),
                                       request.max_tokens);

  IncrementalDetokenizer detokenizer(tokenizer);
  double first_token_time = 0;
  double last_token_time = 0;
  try {
    while (request.max_tokens > 0) {
      const std::span<const EngineCore::Sampled> sampled = core.step();
      if (sampled.empty()) continue;  // a prefill chunk that did not reach the end yet
      const int32_t token = sampled.front().token;
      last_token_time = now_seconds();
      if (result.tokens.empty()) {
        first_token_time = last_token_time;
        result.timings.prefill_steps = core.counters().steps - prefill_steps_before;
      }
      if (!request.ignore_eos && tokenizer.is_end_of_generation(token)) {
        result.finish_reason = FinishReason::kStop;
        break;
      }
      result.tokens.push_back(token);
      TokenEvent event{token, detokenizer.push(token)};
      result.text += event.text;
      if (on_token) on_token(event);
      if (static_cast<int64_t>(result.tokens.size()) >= request.max_tokens) {
        result.finish_reason = FinishReason::kLength;
        break;
      }
    }
  } catch (...) {
    core.remove_sequence(id);
    throw;
  }
  core.remove_sequence(id);
  const std::string rest = detokenizer.flush();
  if (!rest.empty()) {
    result.text += rest;
    if (on_token) on_token(TokenEvent{-1, rest});
  }

  Timings& t = result.timings;
  t.generated_tokens = static_cast<int64_t>(result.tokens.size());
  if (first_token_time > 0) {
    t.time_to_first_token_s = first_token_time - start;
    t.prefill_tokens_per_s = static_cast<double>(t.prompt_tokens) / t.time_to_first_token_s;
    t.decode_s = last_token_time - first_token_time;
    // The first token comes from the prefill; the decode rate counts the steps after it.
    const int64_t decode_steps =
        t.generated_tokens - 1 + (result.finish_reason == FinishReason::kStop ? 1 : 0);
    if (decode_steps > 0 && t.decode_s > 0) t.decode_tokens_per_s = decode_steps / t.decode_s;
  }
  return result;
}

std::vector<float> Engine::evaluate(std::span<const int32_t> tokens) {
  std::vector<float> logits(tokens.size() * impl_->core->config().n_vocab);
  impl_->core->evaluate(tokens, logits.data());
  return logits;
}

}  // namespace loom
