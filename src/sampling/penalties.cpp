#include "sampling/penalties.h"

#include <cmath>

namespace loom {

void LogitBiasProcessor::apply(Candidates& candidates) {
  for (const auto& [token, bias] : bias_) {
    TokenCandidate& c = candidates.items[static_cast<size_t>(token)];
    c.logit = bias <= -100.0f ? -INFINITY : c.logit + bias;
  }
  candidates.has_probs = false;
}

PenaltiesProcessor::PenaltiesProcessor(float repetition, int32_t window, float presence,
                                       float frequency)
    : repetition_(repetition), presence_(presence), frequency_(frequency), window_(window) {}

void PenaltiesProcessor::push_window(int32_t token) {
  if (window_ == 0) return;
  recent_.push_back(token);
  ++in_window_[token];
  if (window_ > 0 && static_cast<int32_t>(recent_.size()) > window_) {
    const int32_t old = recent_.front();
    recent_.pop_front();
    if (--in_window_[old] == 0) in_window_.erase(old);
  }
}

void PenaltiesProcessor::set_prompt(std::span<const int32_t> prompt) {
  for (int32_t token : prompt) push_window(token);
}

void PenaltiesProcessor::accept(int32_t token) {
  push_window(token);
  ++generated_[token];
}

void PenaltiesProcessor::reset() {
  recent_.clear();
  in_window_.clear();
  generated_.clear();
}

void PenaltiesProcessor::apply(Candidates& candidates) {
  if (repetition_ != 1.0f) {
    for (const auto& [token, count] : in_window_) {
      float& logit = candidates.items[static_cast<size_t>(token)].logit;
      logit = logit > 0 ? logit / repetition_ : logit * repetition_;
    }
  }
  if (presence_ != 0.0f || frequency_ != 0.0f) {
    for (const auto& [token, count] : generated_) {
      candidates.items[static_cast<size_t>(token)].logit -=
          presence_ + frequency_ * static_cast<float>(count);
    }
  }
  candidates.has_probs = false;
}

void BanProcessor::apply(Candidates& candidates) {
  if (!active_) return;
  for (int32_t token : tokens_) candidates.items[static_cast<size_t>(token)].logit = -INFINITY;
  candidates.has_probs = false;
}

}  // namespace loom
