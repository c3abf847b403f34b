// The speculative-sampling acceptance rule (Leviathan et al. 2023; Chen et al. 2023): a
// token x drawn from a draft distribution q is kept with probability min(1, p(x) / q(x)),
// where p is the target's distribution at that position; otherwise a token is drawn from
// the residual max(0, p - q), normalised. The token that comes out is distributed exactly
// as p, whatever q is: a poor draft costs speed, never correctness.
#pragma once

#include <cstdint>
#include <span>

#include "sampling/candidates.h"
#include "sampling/rng.h"

namespace loom {

// p: the target's candidates with probabilities (has_probs). q: the draft's probabilities
// over the whole vocabulary, q[x] > 0. Returns x when it is kept, else a residual draw
// (never x, whose residual is 0).
int32_t speculative_pick(const Candidates& p, int32_t x, std::span<const float> q, Rng& rng);

// Draws a token from candidates with probabilities, as a plain sampler does.
int32_t draw(const Candidates& p, Rng& rng);

}  // namespace loom
