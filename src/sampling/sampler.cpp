#include "sampling/sampler.h"

#include <cmath>

#include "core/error.h"
#include "sampling/penalties.h"
#include "sampling/speculative.h"
#include "sampling/truncation.h"

namespace loom {

void validate(const SamplingParams& p, int32_t n_vocab) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) {
    fail_field("temperature", "temperature must be a finite number >= 0 (0 is greedy), got {}",
               p.temperature);
  }
  if (p.top_k < 0) fail_field("top_k", "top_k must be >= 0 (0 turns it off), got {}", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    fail_field("top_p", "top_p must be in (0, 1] (1 turns it off), got {}", p.top_p);
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    fail_field("min_p", "min_p must be in [0, 1] (0 turns it off), got {}", p.min_p);
  }
  if (!(p.typical_p > 0.0f && p.typical_p <= 1.0f)) {
    fail_field("typical_p", "typical_p must be in (0, 1] (1 turns it off), got {}", p.typical_p);
  }
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
    fail_field("repetition_penalty",
               "repetition_penalty must be a finite number > 0 (1 turns it off), got {}",
               p.repetition_penalty);
  }
  if (p.repeat_last_n < -1)
    fail_field("repeat_last_n", "repeat_last_n must be >= -1 (-1: all), got {}", p.repeat_last_n);
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
    fail_field("presence_penalty", "presence_penalty must be in [-2, 2], got {}",
               p.presence_penalty);
  }
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    fail_field("frequency_penalty", "frequency_penalty must be in [-2, 2], got {}",
               p.frequency_penalty);
  }
  if (p.min_keep < 1) fail_field("min_keep", "min_keep must be >= 1, got {}", p.min_keep);
  for (const auto& [token, bias] : p.logit_bias) {
    if (token < 0 || (n_vocab > 0 && token >= n_vocab)) {
      fail_field("logit_bias", "logit_bias: token id {} is not in the vocabulary [0, {})", token,
                 n_vocab);
    }
    if (std::isnan(bias))
      fail_field("logit_bias", "logit_bias: the bias of token {} is not a number", token);
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  validate(params_);
  const size_t min_keep = static_cast<size_t>(params_.min_keep);
  if (!params_.logit_bias.empty()) {
    shaping_.push_back(std::make_unique<LogitBiasProcessor>(params_.logit_bias));
  }
  auto penalties =
      std::make_unique<PenaltiesProcessor>(params_.repetition_penalty, params_.repeat_last_n,
                                           params_.presence_penalty, params_.frequency_penalty);
  penalties_ = penalties.get();
  shaping_.push_back(std::move(penalties));
  truncation_.push_back(std::make_unique<TopKProcessor>(params_.top_k, min_keep));
  truncation_.push_back(std::make_unique<TypicalProcessor>(params_.typical_p, min_keep));
  truncation_.push_back(std::make_unique<TopPProcessor>(params_.top_p, min_keep));
  truncation_.push_back(std::make_unique<MinPProcessor>(params_.min_p, min_keep));
  truncation_.push_back(std::make_unique<TemperatureProcessor>(params_.temperature));
}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;

void Sampler::set_prompt(std::span<const int32_t> prompt) {
  penalties_->set_prompt(prompt);
}

void Sampler::set_banned(std::vector<int32_t> tokens) {
  auto ban = std::make_unique<BanProcessor>(std::move(tokens));
  ban_ = ban.get();
  shaping_.push_back(std::move(ban));
}

void Sampler::set_ban_active(bool active) {
  if (ban_ != nullptr) ban_->set_active(active);
}

void Sampler::add_constraint(std::unique_ptr<LogitsProcessor> constraint) {
  shaping_.push_back(std::move(constraint));
}

bool Sampler::shapes_logits() const {
  return !params_.logit_bias.empty() || params_.repetition_penalty != 1.0f ||
         params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f ||
         shaping_.size() > 1;
}

int32_t argmax(const float* values, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

void Sampler::compute_distribution(const float* logits, int32_t n_vocab) {
  candidates_.assign(logits, n_vocab);
  for (const auto& processor : shaping_) processor->apply(candidates_);
  for (const auto& processor : truncation_) processor->apply(candidates_);
  candidates_.compute_probs();
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
  const bool greedy = params_.temperature == 0.0f;
  if (greedy && !shapes_logits()) return argmax(logits, n_vocab);
  if (greedy) {
    candidates_.assign(logits, n_vocab);
    for (const auto& processor : shaping_) processor->apply(candidates_);
    const TokenCandidate* best = &candidates_.items.front();
    for (const TokenCandidate& c : candidates_.items) {
      if (c.logit > best->logit || (c.logit == best->logit && c.id < best->id)) best = &c;
    }
    return best->id;
  }
  compute_distribution(logits, n_vocab);
  return draw(candidates_, rng_);
}

int32_t Sampler::verify(const float* logits, int32_t n_vocab, int32_t draft,
                        std::span<const float> q) {
  if (q.empty() || params_.temperature == 0.0f) return sample(logits, n_vocab);
  compute_distribution(logits, n_vocab);
  return speculative_pick(candidates_, draft, q, rng_);
}

const Candidates& Sampler::distribution(const float* logits, int32_t n_vocab) {
  compute_distribution(logits, n_vocab);
  return candidates_;
}

int32_t Sampler::draw_from_distribution() {
  return draw(candidates_, rng_);
}

void Sampler::accept(int32_t token) {
  for (const auto& processor : shaping_) processor->accept(token);
}

}  // namespace loom
