// Turns a row of logits into the next token: a chain of processors in a fixed,
// documented order, then a seeded draw. Temperature 0 is greedy (argmax, ties to the
// lowest id) and skips the chain.
//
// Default order (llama.cpp's): top-k -> top-p -> min-p -> temperature -> draw.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sampling/candidates.h"
#include "sampling/logits_processor.h"
#include "sampling/rng.h"

namespace loom {

struct SamplingParams {
  float temperature = 0.8f;  // 0 = greedy
  int32_t top_k = 40;        // 0 = off
  float top_p = 0.95f;       // 1 = off
  float min_p = 0.05f;       // 0 = off
  uint64_t seed = 0;
  int32_t min_keep = 1;
};

// loom::Error naming the parameter when a value is out of range (never clamped).
void validate(const SamplingParams& params);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  int32_t sample(const float* logits, int32_t n_vocab);
  // Tells history-dependent processors which token was appended.
  void accept(int32_t token);

 private:
  SamplingParams params_;
  std::vector<std::unique_ptr<LogitsProcessor>> chain_;
  Candidates candidates_;
  Rng rng_;
};

// Index of the largest value, the lowest index among equals.
int32_t argmax(const float* values, int32_t n);

}  // namespace loom
