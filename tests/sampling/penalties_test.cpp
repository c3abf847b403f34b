#include "sampling/penalties.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loom/error.h"
#include "sampling/sampler.h"
#include "sampling/truncation.h"

namespace loom {
namespace {

Candidates make(const std::vector<float>& logits) {
  Candidates c;
  c.assign(logits.data(), static_cast<int32_t>(logits.size()));
  return c;
}

TEST(LogitBias, AddsAndBans) {
  Candidates c = make({1, 2, 3});
  LogitBiasProcessor({{0, 0.5f}, {2, -100.0f}}).apply(c);
  EXPECT_FLOAT_EQ(c.items[0].logit, 1.5f);
  EXPECT_FLOAT_EQ(c.items[1].logit, 2.0f);
  EXPECT_TRUE(std::isinf(c.items[2].logit) && c.items[2].logit < 0);
}

TEST(Penalties, RepetitionDividesPositiveAndMultipliesNegative) {
  PenaltiesProcessor p(2.0f, 64, 0, 0);
  const std::vector<int32_t> prompt = {0, 1};
  p.set_prompt(prompt);
  Candidates c = make({4, -4, 4});
  p.apply(c);
  EXPECT_FLOAT_EQ(c.items[0].logit, 2.0f);
  EXPECT_FLOAT_EQ(c.items[1].logit, -8.0f);
  EXPECT_FLOAT_EQ(c.items[2].logit, 4.0f);  // not in the window
}

TEST(Penalties, WindowForgetsOldTokens) {
  PenaltiesProcessor p(2.0f, 2, 0, 0);
  const std::vector<int32_t> prompt = {0, 1, 2};  // window keeps 1, 2
  p.set_prompt(prompt);
  Candidates c = make({4, 4, 4});
  p.apply(c);
  EXPECT_FLOAT_EQ(c.items[0].logit, 4.0f);
  EXPECT_FLOAT_EQ(c.items[1].logit, 2.0f);
  EXPECT_FLOAT_EQ(c.items[2].logit, 2.0f);
}

TEST(Penalties, PresenceAndFrequencyCountGeneratedTokensOnly) {
  PenaltiesProcessor p(1.0f, 64, 0.5f, 0.25f);
  const std::vector<int32_t> prompt = {2, 2, 2};
  p.set_prompt(prompt);
  p.accept(0);
  p.accept(0);
  p.accept(1);
  Candidates c = make({1, 1, 1});
  p.apply(c);
  EXPECT_FLOAT_EQ(c.items[0].logit, 1 - 0.5f - 2 * 0.25f);
  EXPECT_FLOAT_EQ(c.items[1].logit, 1 - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(c.items[2].logit, 1.0f);  // prompt tokens are not penalised
}

TEST(Ban, OnlyWhileActive) {
  BanProcessor b({1});
  Candidates c = make({1, 5});
  b.apply(c);
  EXPECT_FLOAT_EQ(c.items[1].logit, 5.0f);
  b.set_active(true);
  b.apply(c);
  EXPECT_TRUE(std::isinf(c.items[1].logit));
}

TEST(Typical, KeepsTokensNearTheEntropy) {
  // probabilities 0.5, 0.25, 0.125, 0.125: entropy 1.75 bits = 1.213 nats. Surprisals
  // (nats): 0.693, 1.386, 2.079, 2.079; distances 0.52, 0.17, 0.87, 0.87. p = 0.5 keeps
  // the 0.25 token, then the 0.5 one (0.75 >= 0.5).
  const float l = std::log(2.0f);
  Candidates c = make({3 * l, 2 * l, l, l});
  TypicalProcessor(0.5f, 1).apply(c);
  ASSERT_EQ(c.items.size(), 2u);
  EXPECT_EQ(c.items[0].id, 1);
  EXPECT_EQ(c.items[1].id, 0);
}

TEST(Sampler, GreedyHonoursBiasAndPenalties) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{2, -100.0f}};
  Sampler s(p);
  const std::vector<float> logits = {1, 2, 3};
  EXPECT_EQ(s.sample(logits.data(), 3), 1);
}

TEST(Sampler, MinTokensBanThenRelease) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  s.set_banned({2});
  s.set_ban_active(true);
  const std::vector<float> logits = {1, 2, 3};
  EXPECT_EQ(s.sample(logits.data(), 3), 1);
  s.set_ban_active(false);
  EXPECT_EQ(s.sample(logits.data(), 3), 2);
}

TEST(Sampler, UnknownLogitBiasTokenIsAnError) {
  SamplingParams p;
  p.logit_bias = {{7, 1.0f}};
  EXPECT_THROW(validate(p, 5), Error);
  p.logit_bias = {{-1, 1.0f}};
  EXPECT_THROW(validate(p, 5), Error);
  p.logit_bias = {{4, 1.0f}};
  EXPECT_NO_THROW(validate(p, 5));
}

// Top-k then temperature: the draws follow the renormalised, tempered distribution.
TEST(Sampler, TopKAndTemperatureDrawTheClaimedDistribution) {
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f, 5.0f};
  SamplingParams p;
  p.temperature = 2.0f;
  p.top_k = 3;  // keeps ids 4, 0, 1
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 11;
  Sampler s(p);
  const double w[3] = {std::exp(5.0 / 2), std::exp(2.0 / 2), std::exp(1.0 / 2)};
  const double total = w[0] + w[1] + w[2];
  const int ids[3] = {4, 0, 1};
  const int draws = 50000;
  std::vector<int> counts(5, 0);
  for (int i = 0; i < draws; ++i) ++counts[s.sample(logits.data(), 5)];
  EXPECT_EQ(counts[2] + counts[3], 0);
  double chi2 = 0;
  for (int i = 0; i < 3; ++i) {
    const double expected = w[i] / total * draws;
    chi2 += (counts[ids[i]] - expected) * (counts[ids[i]] - expected) / expected;
  }
  EXPECT_LT(chi2, 13.8);  // 2 degrees of freedom, p ~ 0.001
}

}  // namespace
}  // namespace loom
