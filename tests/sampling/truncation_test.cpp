#include "sampling/truncation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace loom {
namespace {

std::vector<int32_t> ids_of(const Candidates& c) {
  std::vector<int32_t> ids;
  for (const TokenCandidate& t : c.items) ids.push_back(t.id);
  return ids;
}

// probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 for ids 3, 0, 4, 1, 2
Candidates make() {
  const float l2 = std::log(2.0f);
  const std::vector<float> logits = {2 * l2, 0, 0, 3 * l2, l2};
  Candidates c;
  c.assign(logits.data(), static_cast<int32_t>(logits.size()));
  return c;
}

TEST(TopK, KeepsTheKLargestInOrder) {
  Candidates c = make();
  TopKProcessor(2, 1).apply(c);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3, 0}));
  EXPECT_TRUE(c.sorted);
}

TEST(TopK, ZeroAndLargeKeepEverything) {
  Candidates c = make();
  TopKProcessor(0, 1).apply(c);
  EXPECT_EQ(c.items.size(), 5u);
  TopKProcessor(50, 1).apply(c);
  EXPECT_EQ(c.items.size(), 5u);
}

TEST(TopK, MinKeepWins) {
  Candidates c = make();
  TopKProcessor(1, 3).apply(c);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3, 0, 4}));
}

TEST(TopP, KeepsTheSmallestNucleus) {
  Candidates c = make();
  TopPProcessor(0.7f, 1).apply(c);  // 0.5 + 0.25 >= 0.7
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3, 0}));
  c = make();
  TopPProcessor(0.5f, 1).apply(c);  // 0.5 alone reaches 0.5
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3}));
  c = make();
  TopPProcessor(0.9f, 1).apply(c);  // 0.875 < 0.9, 0.9375 >= 0.9
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3, 0, 4, 1}));
  c = make();
  TopPProcessor(1.0f, 1).apply(c);
  EXPECT_EQ(c.items.size(), 5u);
}

TEST(TopP, LargeVocabularyBeyondTheFirstSortedPrefix) {
  // 1000 equal logits: the nucleus of 0.5 is 500 tokens, the lowest ids first.
  std::vector<float> logits(1000, 1.0f);
  Candidates c;
  c.assign(logits.data(), 1000);
  TopPProcessor(0.5f, 1).apply(c);
  ASSERT_EQ(c.items.size(), 500u);
  EXPECT_EQ(c.items.front().id, 0);
  EXPECT_EQ(c.items.back().id, 499);
}

TEST(MinP, KeepsTokensAboveTheScaledMaximum) {
  Candidates c = make();
  MinPProcessor(0.25f, 1).apply(c);  // >= 0.125: ids 3 (0.5), 0 (0.25), 4 (0.125), id order kept
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{0, 3, 4}));
  c = make();
  MinPProcessor(0.6f, 1).apply(c);
  EXPECT_EQ(ids_of(c), (std::vector<int32_t>{3}));
  c = make();
  MinPProcessor(0.0f, 1).apply(c);
  EXPECT_EQ(c.items.size(), 5u);
}

TEST(Temperature, ScalesLogits) {
  Candidates c = make();
  TemperatureProcessor(0.5f).apply(c);
  EXPECT_FLOAT_EQ(c.items[3].logit, 6 * std::log(2.0f));
  EXPECT_FLOAT_EQ(c.items[1].logit, 0.0f);
}

}  // namespace
}  // namespace loom
