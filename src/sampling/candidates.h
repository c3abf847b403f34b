// The working set a sampling chain narrows down: candidate tokens with their logits,
// and probabilities once a processor has computed them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loom {

struct TokenCandidate {
  int32_t id;
  float logit;
  float prob;  // meaningful only when Candidates::has_probs
};

struct Candidates {
  std::vector<TokenCandidate> items;  // (n_candidates)
  bool sorted = false;                // by logit, largest first
  bool has_probs = false;             // prob = softmax of the current logits

  // Refills from a full logits row; reuses the vector's storage (no allocation after the
  // first step).
  void assign(const float* logits, int32_t n_vocab);
  // Sorts the largest k to the front (descending) and sets sorted if k covers all.
  void sort_top(size_t k);
  // Computes prob over the current items (max-subtracted softmax, in double for the sum).
  void compute_probs();
};

}  // namespace loom
