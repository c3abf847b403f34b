// Every check of a Request, in one place. Each failure is a loom::FieldError naming the
// field at fault, so the server reports the client's parameter without reading messages.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "grammar/compiled_grammar.h"
#include "loom/loom.h"
#include "sampling/sampler.h"

namespace loom {

struct RequestLimits {
  int32_t n_vocab = 0;
  int32_t draft_max = 0;  // the engine's; 0 when it does not draft
  int32_t max_sequences = 1;
  int64_t context = 0;
};

// The checks that need neither the prompt's tokens nor the grammar compiled.
void validate_request(const Request& request, const RequestLimits& limits);

// The sampler's parameters for the request's sampling options and a seed.
SamplingParams sampling_params(const SamplingOptions& options, uint64_t seed);

// The request's output constraint compiled (null when it has none); a FieldError naming
// grammar, json_schema or json_object when it cannot be.
std::shared_ptr<const grammar::CompiledGrammar> compile_constraint(const Request& request);

// The tokenized prompt: not empty, every id in the vocabulary, and room for max_tokens.
void validate_prompt(std::span<const int32_t> prompt, const Request& request,
                     const RequestLimits& limits);

}  // namespace loom
