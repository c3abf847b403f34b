#include "api/request_validator.h"

#include <cmath>

#include "core/error.h"
#include "grammar/json_schema.h"

namespace loom {
namespace {
constexpr int32_t kMaxLogprobs = 20;
}  // namespace

void validate_request(const Request& request, const RequestLimits& limits) {
  if (request.n < 1) fail_field("n", "n must be >= 1, got {}", request.n);
  if (request.best_of != 0 && request.best_of < request.n) {
    fail_field("best_of", "best_of must be >= n ({}), got {}", request.n, request.best_of);
  }
  if (request.num_beams < 0) {
    fail_field("num_beams", "num_beams must be >= 0, got {}", request.num_beams);
  }
  if (request.num_beams > 0 && request.n > request.num_beams) {
    fail_field("n", "n ({}) must not exceed num_beams ({})", request.n, request.num_beams);
  }
  if (request.num_beams > 0 && request.best_of > 0) {
    fail_field("best_of", "best_of cannot be combined with beam search (num_beams)");
  }
  const int32_t sequences =
      request.num_beams > 0 ? request.num_beams : std::max(request.n, request.best_of);
  if (sequences > limits.max_sequences) {
    fail_field(request.num_beams > 0         ? "num_beams"
               : request.best_of > request.n ? "best_of"
                                             : "n",
               "this request needs {} sequences at once (n, best_of or num_beams) but the engine "
               "runs at most {}: lower it or raise --parallel",
               sequences, limits.max_sequences);
  }
  if (request.logprobs < -1 || request.logprobs > kMaxLogprobs) {
    fail_field("logprobs", "logprobs must be between 0 and {} (or -1 for none), got {}",
               kMaxLogprobs, request.logprobs);
  }
  if (request.max_tokens < 0) {
    fail_field("max_tokens", "max_tokens must be >= 0, got {}", request.max_tokens);
  }
  if (request.min_tokens < 0 || request.min_tokens > request.max_tokens) {
    fail_field("min_tokens", "min_tokens must be between 0 and max_tokens ({}), got {}",
               request.max_tokens, request.min_tokens);
  }
  if (request.timeout && !(std::isfinite(*request.timeout) && *request.timeout > 0)) {
    fail_field("timeout", "timeout must be a number of seconds > 0, got {}", *request.timeout);
  }
  if (!std::isfinite(request.length_penalty)) {
    fail_field("length_penalty", "length_penalty must be a finite number");
  }
  if (request.draft_max && (*request.draft_max < 0 || *request.draft_max > limits.draft_max)) {
    fail_field("draft_max", "draft_max must be between 0 and the engine's draft_max ({}), got {}",
               limits.draft_max, *request.draft_max);
  }
  for (int32_t token : request.stop_tokens) {
    if (token < 0 || token >= limits.n_vocab) {
      fail_field("stop_tokens", "stop token id {} is not in the vocabulary [0, {})", token,
                 limits.n_vocab);
    }
  }
  const int constraints = (request.grammar.empty() ? 0 : 1) +
                          (request.json_schema.empty() ? 0 : 1) + (request.json_object ? 1 : 0);
  if (constraints > 1) {
    fail_field(request.grammar.empty() ? "json_schema" : "grammar",
               "give at most one of grammar, json_schema and json_object");
  }
  if (!request.grammar_triggers.empty() && (request.grammar.empty() || request.num_beams > 0)) {
    fail_field("grammar_triggers",
               "grammar_triggers need a grammar and cannot be combined with beam search "
               "(num_beams)");
  }
  // The seed does not change what is valid.
  validate(sampling_params(request.sampling, 0), limits.n_vocab);
}

SamplingParams sampling_params(const SamplingOptions& o, uint64_t seed) {
  SamplingParams p;
  p.temperature = o.temperature;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.min_p = o.min_p;
  p.typical_p = o.typical_p;
  p.repetition_penalty = o.repetition_penalty;
  p.repeat_last_n = o.repeat_last_n;
  p.presence_penalty = o.presence_penalty;
  p.frequency_penalty = o.frequency_penalty;
  p.logit_bias.assign(o.logit_bias.begin(), o.logit_bias.end());
  p.seed = seed;
  return p;
}

std::shared_ptr<const grammar::CompiledGrammar> compile_constraint(const Request& request) {
  const char* field = !request.grammar.empty()       ? "grammar"
                      : !request.json_schema.empty() ? "json_schema"
                                                     : "json_object";
  try {
    if (!request.grammar.empty()) return grammar::compile_gbnf(request.grammar);
    if (!request.json_schema.empty()) {
      return grammar::compile_json_schema(request.json_schema,
                                          {.strict = request.json_schema_strict});
    }
    if (request.json_object) return grammar::compile_json_object();
  } catch (const FieldError&) {
    throw;
  } catch (const Error& e) {
    throw FieldError(field, e.what());
  }
  return nullptr;
}

void validate_prompt(std::span<const int32_t> prompt, const Request& request,
                     const RequestLimits& limits) {
  if (prompt.empty()) fail_field("prompt", "the prompt is empty: at least one token is needed");
  for (int32_t token : prompt) {
    if (token < 0 || token >= limits.n_vocab) {
      fail_field("prompt", "prompt token id {} is not in the vocabulary", token);
    }
  }
  const int64_t needed = static_cast<int64_t>(prompt.size()) + request.max_tokens;
  if (needed > limits.context) {
    fail_field("prompt",
               "the prompt ({} tokens) plus max_tokens ({}) needs {} positions, more than the "
               "context size {}: shorten the prompt, lower max_tokens or raise the context size",
               prompt.size(), request.max_tokens, needed, limits.context);
  }
}

}  // namespace loom
