#include "sampling/candidates.h"

#include <algorithm>
#include <cmath>

namespace loom {

namespace {
bool by_logit_desc(const TokenCandidate& a, const TokenCandidate& b) {
  // Ties go to the lower id so the order (and greedy choice) is deterministic.
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}
}  // namespace

void Candidates::assign(const float* logits, int32_t n_vocab) {
  items.resize(static_cast<size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) items[i] = {i, logits[i], 0.0f};
  sorted = false;
  has_probs = false;
}

void Candidates::sort_top(size_t k) {
  if (sorted) return;
  if (k >= items.size()) {
    std::sort(items.begin(), items.end(), by_logit_desc);
    sorted = true;
  } else {
    std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(k), items.end(),
                      by_logit_desc);
  }
}

void Candidates::compute_probs() {
  if (items.empty()) return;
  float max_logit = items[0].logit;
  for (const TokenCandidate& c : items) max_logit = std::max(max_logit, c.logit);
  double sum = 0;
  for (TokenCandidate& c : items) {
    c.prob = std::exp(c.logit - max_logit);
    sum += c.prob;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (TokenCandidate& c : items) c.prob *= inv;
  has_probs = true;
}

}  // namespace loom
