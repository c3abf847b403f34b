// The distribution-shaping processors: temperature and the truncations top-k, top-p
// (nucleus) and min-p. Each keeps at least `min_keep` candidates.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "sampling/logits_processor.h"

namespace loom {

// logit /= temperature (temperature > 0; 0 means greedy and is handled by the Sampler).
class TemperatureProcessor final : public LogitsProcessor {
 public:
  explicit TemperatureProcessor(float temperature) : temperature_(temperature) {}
  void apply(Candidates& candidates) override;

 private:
  float temperature_;
};

// Keeps the k most likely tokens; k <= 0 keeps all.
class TopKProcessor final : public LogitsProcessor {
 public:
  TopKProcessor(int k, size_t min_keep) : k_(k), min_keep_(min_keep) {}
  void apply(Candidates& candidates) override;

 private:
  int k_;
  size_t min_keep_;
};

// Keeps the smallest set of most likely tokens whose probability reaches p; p >= 1 keeps all.
class TopPProcessor final : public LogitsProcessor {
 public:
  TopPProcessor(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  void apply(Candidates& candidates) override;

 private:
  float p_;
  size_t min_keep_;
};

// Keeps tokens whose probability is at least p times the most likely one's; p <= 0 keeps all.
class MinPProcessor final : public LogitsProcessor {
 public:
  MinPProcessor(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  void apply(Candidates& candidates) override;

 private:
  float p_;
  size_t min_keep_;
};

// Locally typical sampling (Meister et al.): keeps the tokens whose surprisal is closest
// to the distribution's entropy until their probability reaches p; p >= 1 keeps all.
class TypicalProcessor final : public LogitsProcessor {
 public:
  TypicalProcessor(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  void apply(Candidates& candidates) override;

 private:
  float p_;
  size_t min_keep_;
  std::vector<std::pair<float, size_t>> order_;  // (|surprisal - entropy|, index), reused
};

}  // namespace loom
