#include "sampling/speculative.h"

#include <algorithm>

namespace loom {

int32_t draw(const Candidates& p, Rng& rng) {
  const double u = rng.uniform();
  double cumulative = 0;
  for (const TokenCandidate& c : p.items) {
    cumulative += c.prob;
    if (u < cumulative) return c.id;
  }
  return p.items.back().id;  // u fell in the rounding gap at the top
}

int32_t speculative_pick(const Candidates& p, int32_t x, std::span<const float> q, Rng& rng) {
  double p_x = 0;
  for (const TokenCandidate& c : p.items) {
    if (c.id == x) {
      p_x = c.prob;
      break;
    }
  }
  const double q_x = q[static_cast<size_t>(x)];
  // Kept with probability min(1, p(x) / q(x)); one draw either way, so the random stream
  // advances the same whether or not the ratio is above 1.
  if (rng.uniform() * q_x < p_x) return x;
  double total = 0;
  for (const TokenCandidate& c : p.items) {
    total += std::max(0.0, static_cast<double>(c.prob) - q[static_cast<size_t>(c.id)]);
  }
  if (!(total > 0)) return draw(p, rng);  // p <= q everywhere: only rounding can get here
  const double u = rng.uniform() * total;
  double cumulative = 0;
  int32_t last = p.items.front().id;
  for (const TokenCandidate& c : p.items) {
    const double residual =
        std::max(0.0, static_cast<double>(c.prob) - q[static_cast<size_t>(c.id)]);
    if (residual <= 0) continue;
    last = c.id;
    cumulative += residual;
    if (u < cumulative) return c.id;
  }
  return last;
}

}  // namespace loom
