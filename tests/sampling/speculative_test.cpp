#include "sampling/speculative.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "sampling/sampler.h"

namespace loom {
namespace {

// A target distribution over a few candidates of an 8-token vocabulary.
Candidates target() {
  Candidates p;
  const std::vector<float> probs = {0.05f, 0.40f, 0.0f, 0.25f, 0.10f, 0.0f, 0.20f, 0.0f};
  for (int32_t id = 0; id < 8; ++id) {
    if (probs[id] > 0) p.items.push_back({id, 0.0f, probs[id]});
  }
  p.has_probs = true;
  return p;
}

// Pearson's chi-squared statistic of counts against expected probabilities.
double chi_squared(const std::vector<int64_t>& counts, const std::vector<double>& expected,
                   int64_t n) {
  double chi2 = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (expected[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0 but was drawn";
      continue;
    }
    const double e = expected[i] * static_cast<double>(n);
    chi2 += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi2;
}

// Draws x from q, applies the rule and tallies the result: the tokens must follow p, not q.
struct Outcome {
  std::vector<int64_t> counts = std::vector<int64_t>(8, 0);
  int64_t kept = 0;
};

Outcome run(const std::vector<float>& q, int64_t n, uint64_t seed) {
  const Candidates p = target();
  Candidates q_candidates;
  for (int32_t id = 0; id < 8; ++id) {
    if (q[id] > 0) q_candidates.items.push_back({id, 0.0f, q[id]});
  }
  Rng draft_rng(seed), target_rng(seed + 1);
  Outcome out;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t x = draw(q_candidates, draft_rng);
    const int32_t token = speculative_pick(p, x, q, target_rng);
    ++out.counts[token];
    if (token == x) ++out.kept;
  }
  return out;
}

// chi-squared with 4 degrees of freedom (5 tokens with p > 0): 27.9 has probability 1e-5.
constexpr double kChi2Limit = 27.9;

TEST(SpeculativeSampling, OutputFollowsTheTargetWhateverTheDraft) {
  const std::vector<double> p = {0.05, 0.40, 0.0, 0.25, 0.10, 0.0, 0.20, 0.0};
  const std::vector<std::vector<float>> drafts = {
      {0.05f, 0.40f, 0.0f, 0.25f, 0.10f, 0.0f, 0.20f, 0.0f},    // the target itself
      {0.30f, 0.05f, 0.20f, 0.05f, 0.10f, 0.25f, 0.0f, 0.05f},  // far off, with p = 0 tokens
      {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f},         // always a token p never draws
      {0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f},
  };
  const int64_t n = 200000;
  for (size_t d = 0; d < drafts.size(); ++d) {
    const Outcome out = run(drafts[d], n, 100 + d);
    EXPECT_LT(chi_squared(out.counts, p, n), kChi2Limit) << "draft " << d;
    // Kept with probability sum_x min(p(x), q(x)) = 1 - total variation distance.
    double expected_kept = 0;
    for (int i = 0; i < 8; ++i) expected_kept += std::min(p[i], static_cast<double>(drafts[d][i]));
    EXPECT_NEAR(static_cast<double>(out.kept) / n, expected_kept, 0.005) << "draft " << d;
  }
}

TEST(SpeculativeSampling, KeepingEveryDraftWouldFollowTheDraftAndFailTheCheck) {
  // The check above can fail: tallying the draft's own tokens against p does.
  const std::vector<double> p = {0.05, 0.40, 0.0, 0.25, 0.10, 0.0, 0.20, 0.0};
  const std::vector<float> q = {0.10f, 0.30f, 0.0f, 0.30f, 0.10f, 0.0f, 0.20f, 0.0f};
  Candidates q_candidates;
  for (int32_t id = 0; id < 8; ++id) {
    if (q[id] > 0) q_candidates.items.push_back({id, 0.0f, q[id]});
  }
  Rng rng(7);
  std::vector<int64_t> counts(8, 0);
  const int64_t n = 200000;
  for (int64_t i = 0; i < n; ++i) ++counts[draw(q_candidates, rng)];
  EXPECT_GT(chi_squared(counts, p, n), kChi2Limit);
}

TEST(SpeculativeSampling, VerifyWithoutDraftProbabilitiesIsSample) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = 99;
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::cos(static_cast<float>(i) * 0.7f);
  Sampler a(params), b(params);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(a.verify(logits.data(), 50, i % 50, {}), b.sample(logits.data(), 50));
  }
}

TEST(SpeculativeSampling, SamplerVerifyKeepsAndReplacesByTheRule) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = 5;
  // Target: token 0 with ~0.88, token 1 with ~0.12, others ~0.
  std::vector<float> logits = {4.0f, 2.0f, -20.0f, -20.0f};
  // A draft sure of token 2 is (almost) never kept; one sure of token 0 is kept ~88%.
  const std::vector<float> q_two = {0.0f, 0.0f, 1.0f, 0.0f};
  const std::vector<float> q_zero = {1.0f, 0.0f, 0.0f, 0.0f};
  Sampler s(params);
  int kept_two = 0, kept_zero = 0;
  for (int i = 0; i < 2000; ++i) {
    kept_two += s.verify(logits.data(), 4, 2, q_two) == 2;
    kept_zero += s.verify(logits.data(), 4, 0, q_zero) == 0;
  }
  EXPECT_EQ(kept_two, 0);
  EXPECT_NEAR(kept_zero / 2000.0, 0.8808, 0.03);
}

}  // namespace
}  // namespace loom
