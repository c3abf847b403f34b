#include "sampling/sampler.h"

#include <cmath>

#include "core/error.h"
#include "sampling/truncation.h"

namespace loom {

void validate(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) {
    fail("temperature must be a finite number >= 0 (0 is greedy), got {}", p.temperature);
  }
  if (p.top_k < 0) fail("top_k must be >= 0 (0 turns it off), got {}", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    fail("top_p must be in (0, 1] (1 turns it off), got {}", p.top_p);
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    fail("min_p must be in [0, 1] (0 turns it off), got {}", p.min_p);
  }
  if (p.min_keep < 1) fail("min_keep must be >= 1, got {}", p.min_keep);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  validate(params_);
  const size_t min_keep = static_cast<size_t>(params_.min_keep);
  chain_.push_back(std::make_unique<TopKProcessor>(params_.top_k, min_keep));
  chain_.push_back(std::make_unique<TopPProcessor>(params_.top_p, min_keep));
  chain_.push_back(std::make_unique<MinPProcessor>(params_.min_p, min_keep));
  chain_.push_back(std::make_unique<TemperatureProcessor>(params_.temperature));
}

int32_t argmax(const float* values, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
  if (params_.temperature == 0.0f) return argmax(logits, n_vocab);
  candidates_.assign(logits, n_vocab);
  for (const auto& processor : chain_) processor->apply(candidates_);
  candidates_.compute_probs();
  const double u = rng_.uniform();
  double cumulative = 0;
  for (const TokenCandidate& c : candidates_.items) {
    cumulative += c.prob;
    if (u < cumulative) return c.id;
  }
  return candidates_.items.back().id;  // u fell in the rounding gap at the top
}

void Sampler::accept(int32_t token) {
  for (const auto& processor : chain_) processor->accept(token);
}

}  // namespace loom
