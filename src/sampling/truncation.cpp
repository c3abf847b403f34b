#include "sampling/truncation.h"

#include <algorithm>
#include <cmath>

namespace loom {

void TemperatureProcessor::apply(Candidates& candidates) {
  const float inv = 1.0f / temperature_;
  for (TokenCandidate& c : candidates.items) c.logit *= inv;
  candidates.has_probs = false;
}

void TopKProcessor::apply(Candidates& candidates) {
  if (k_ <= 0) return;
  const size_t k = std::max(static_cast<size_t>(k_), min_keep_);
  if (k >= candidates.items.size()) return;
  candidates.sort_top(k);
  candidates.items.resize(k);
  candidates.sorted = true;
  candidates.has_probs = false;
}

void TopPProcessor::apply(Candidates& candidates) {
  if (p_ >= 1.0f || candidates.items.empty()) return;
  candidates.compute_probs();
  std::vector<TokenCandidate>& items = candidates.items;
  // Sort only the head that can hold the nucleus: bucket the candidates by how far their
  // logit is below the best, find the bucket where the probability mass reaches p, and
  // move everything up to it to the front. The nucleus is the same as after a full sort.
  size_t head = items.size();
  if (!candidates.sorted && items.size() > 1024) {
    constexpr int kBuckets = 512;
    constexpr float kRange = 32.0f;  // logits further below the best share the last bucket
    float max_logit = items[0].logit;
    for (const TokenCandidate& c : items) max_logit = std::max(max_logit, c.logit);
    auto bucket_of = [&](const TokenCandidate& c) {
      const float below = (max_logit - c.logit) * (kBuckets / kRange);
      return below >= kBuckets - 1 ? kBuckets - 1 : static_cast<int>(below);
    };
    double mass[kBuckets] = {};
    for (const TokenCandidate& c : items) mass[bucket_of(c)] += c.prob;
    double cumulative = 0;
    int last = kBuckets - 1;
    for (int b = 0; b < kBuckets; ++b) {
      cumulative += mass[b];
      if (cumulative >= p_) {
        last = b;
        break;
      }
    }
    auto end = std::partition(items.begin(), items.end(),
                              [&](const TokenCandidate& c) { return bucket_of(c) <= last; });
    head = static_cast<size_t>(end - items.begin());
    if (head < min_keep_) head = items.size();  // rare: fall back to sorting everything
  }
  std::sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(head),
            [](const TokenCandidate& a, const TokenCandidate& b) {
              return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
            });
  double cumulative = 0;
  for (size_t i = 0; i < head; ++i) {
    cumulative += items[i].prob;
    if (cumulative >= p_ && i + 1 >= min_keep_) {
      items.resize(i + 1);
      candidates.sorted = true;
      candidates.has_probs = false;  // probabilities no longer sum to one
      return;
    }
  }
  // Rounding kept the sum just below p: keep the head, sorted.
  items.resize(std::max(head, std::min(items.size(), min_keep_)));
  candidates.sorted = head == items.size();
  candidates.has_probs = false;
}

void MinPProcessor::apply(Candidates& candidates) {
  if (p_ <= 0.0f || candidates.items.empty()) return;
  float max_logit = candidates.items[0].logit;
  for (const TokenCandidate& c : candidates.items) max_logit = std::max(max_logit, c.logit);
  // prob >= p * max_prob  <=>  logit >= max_logit + log(p)
  const float threshold = max_logit + std::log(p_);
  std::vector<TokenCandidate>& items = candidates.items;
  size_t kept = 0;
  for (const TokenCandidate& c : items) kept += c.logit >= threshold ? 1 : 0;
  if (kept < min_keep_) {
    candidates.sort_top(min_keep_);
    items.resize(std::min(items.size(), min_keep_));
    candidates.sorted = true;
  } else {
    // Stable in-place filter: keeps the current order (sorted or by id).
    auto end = std::remove_if(items.begin(), items.end(),
                              [&](const TokenCandidate& c) { return c.logit < threshold; });
    items.erase(end, items.end());
  }
  candidates.has_probs = false;
}

void TypicalProcessor::apply(Candidates& candidates) {
  if (p_ >= 1.0f || candidates.items.size() <= 1) return;
  candidates.compute_probs();
  double entropy = 0;
  for (const TokenCandidate& c : candidates.items) {
    if (c.prob > 0) entropy -= c.prob * std::log(static_cast<double>(c.prob));
  }
  order_.clear();
  for (size_t i = 0; i < candidates.items.size(); ++i) {
    const float prob = candidates.items[i].prob;
    const double surprisal = prob > 0 ? -std::log(static_cast<double>(prob)) : INFINITY;
    order_.emplace_back(static_cast<float>(std::abs(surprisal - entropy)), i);
  }
  std::sort(order_.begin(), order_.end());
  double cumulative = 0;
  size_t keep = order_.size();
  for (size_t i = 0; i < order_.size(); ++i) {
    cumulative += candidates.items[order_[i].second].prob;
    if (cumulative >= p_ && i + 1 >= min_keep_) {
      keep = i + 1;
      break;
    }
  }
  std::vector<TokenCandidate> kept;
  kept.reserve(keep);
  for (size_t i = 0; i < keep; ++i) kept.push_back(candidates.items[order_[i].second]);
  candidates.items = std::move(kept);
  candidates.sorted = false;
  candidates.has_probs = false;
}

}  // namespace loom
