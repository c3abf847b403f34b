#include "sampling/logprobs.h"

#include <algorithm>
#include <cmath>

namespace loom {

double log_sum_exp(const float* logits, int32_t n_vocab) {
  float max_logit = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max_logit));
  return max_logit + std::log(sum);
}

LogprobResult token_logprobs(const float* logits, int32_t n_vocab, int32_t token, int32_t top_n) {
  const double lse = log_sum_exp(logits, n_vocab);
  LogprobResult result;
  result.logprob = static_cast<float>(logits[token] - lse);
  if (top_n > 0) {
    std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) ids[i] = i;
    const int32_t k = std::min(top_n, n_vocab);
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int32_t i = 0; i < k; ++i) {
      result.top.emplace_back(ids[i], static_cast<float>(logits[ids[i]] - lse));
    }
  }
  return result;
}

}  // namespace loom
