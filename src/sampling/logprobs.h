// Log-probabilities of a logits row (log-softmax at temperature 1, before any sampling
// processor), as the OpenAI API reports them.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace loom {

struct LogprobResult {
  float logprob = 0;                           // of the chosen token
  std::vector<std::pair<int32_t, float>> top;  // the most likely tokens, best first
};

// log-sum-exp of the row (computed in double).
double log_sum_exp(const float* logits, int32_t n_vocab);
LogprobResult token_logprobs(const float* logits, int32_t n_vocab, int32_t token, int32_t top_n);

}  // namespace loom
