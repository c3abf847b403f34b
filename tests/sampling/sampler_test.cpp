#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loom/error.h"

namespace loom {
namespace {

TEST(Sampler, TemperatureZeroIsArgmaxWithTiesToTheLowestId) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  const std::vector<float> logits = {1, 5, 5, -3};
  EXPECT_EQ(s.sample(logits.data(), 4), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 1234;
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(static_cast<float>(i));
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.sample(logits.data(), 100));
    tb.push_back(b.sample(logits.data(), 100));
  }
  EXPECT_EQ(ta, tb);
  p.seed = 1235;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 200; ++i) tc.push_back(c.sample(logits.data(), 100));
  EXPECT_NE(ta, tc);
}

// Chi-square goodness of fit: at temperature 1 with no truncation the draws follow the
// softmax of the logits.
TEST(Sampler, DrawsFollowTheSoftmax) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  const int n = static_cast<int>(logits.size());
  std::vector<double> probs(n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += probs[i] = std::exp(logits[i]);
  for (double& q : probs) q /= sum;

  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 7;
  Sampler s(p);
  const int draws = 60000;
  std::vector<int> counts(n, 0);
  for (int i = 0; i < draws; ++i) ++counts[s.sample(logits.data(), n)];
  double chi2 = 0;
  for (int i = 0; i < n; ++i) {
    const double expected = probs[i] * draws;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  // 5 degrees of freedom: P(chi2 > 20.5) ~ 0.001.
  EXPECT_LT(chi2, 20.5);
}

TEST(Sampler, TopKOneIsGreedyAtAnyTemperature) {
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  p.seed = 3;
  Sampler s(p);
  const std::vector<float> logits = {0.1f, 0.3f, 0.2f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits.data(), 3), 1);
}

TEST(Sampler, BadValuesAreErrorsNotClamps) {
  auto bad = [](auto mutate, const char* needle) {
    SamplingParams p;
    mutate(p);
    try {
      Sampler s(p);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad([](SamplingParams& p) { p.temperature = -1; }, "temperature");
  bad([](SamplingParams& p) { p.temperature = NAN; }, "temperature");
  bad([](SamplingParams& p) { p.top_k = -1; }, "top_k");
  bad([](SamplingParams& p) { p.top_p = 0; }, "top_p");
  bad([](SamplingParams& p) { p.top_p = 1.5f; }, "top_p");
  bad([](SamplingParams& p) { p.min_p = -0.1f; }, "min_p");
  bad([](SamplingParams& p) { p.min_p = 2; }, "min_p");
}

}  // namespace
}  // namespace loom
