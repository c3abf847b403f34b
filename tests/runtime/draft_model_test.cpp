// The draft model's copies of target sequences: brought up to date by rolling back what
// the target rejected and appending what it accepted, they compute exactly what a fresh
// sequence with the same tokens computes (the rollback leaves no stale KV positions).
#include "runtime/draft_model.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/stories_transformer.h"
#include "gguf/gguf_file.h"
#include "model/transformer.h"

namespace loom {
namespace {

std::shared_ptr<const Transformer> model() {
  return testing_support::stories_transformer();
}

std::vector<float> row_of(std::span<const DraftModel::Row> rows, int64_t key, int32_t n_vocab) {
  for (const auto& r : rows) {
    if (r.key == key) return {r.logits, r.logits + n_vocab};
  }
  return {};
}

TEST(DraftModel, RolledBackCopiesComputeWhatAFreshSequenceComputes) {
  const EngineCoreOptions options{.threads = 1, .context = 128, .max_sequences = 3, .max_draft = 4};
  DraftModel draft(model(), options);
  const int32_t n_vocab = draft.n_vocab();
  std::vector<int32_t> tokens = {1,  40, 41, 42, 43, 44, 45, 46, 47, 48,
                                 49, 50, 51, 52, 53, 54, 55, 56, 57, 58};
  const int64_t key = 7, fresh_key = 8;
  draft.sync(key, tokens);
  const int64_t keys[] = {key};
  ASSERT_FALSE(row_of(draft.step(keys), key, n_vocab).empty());
  // Three proposals, computed one step at a time as the engine does.
  for (int32_t t : {100, 101, 102}) {
    draft.append(key, t);
    ASSERT_FALSE(row_of(draft.step(keys), key, n_vocab).empty());
  }
  // The target kept the first proposal, then sampled 200 instead of 101.
  std::vector<int32_t> accepted = tokens;
  accepted.push_back(100);
  accepted.push_back(200);
  draft.sync(key, accepted);
  const std::vector<float> rolled = row_of(draft.step(keys), key, n_vocab);
  draft.sync(fresh_key, accepted);
  const int64_t fresh_keys[] = {fresh_key};
  const std::vector<float> fresh = row_of(draft.step(fresh_keys), fresh_key, n_vocab);
  ASSERT_EQ(rolled.size(), static_cast<size_t>(n_vocab));
  EXPECT_EQ(rolled, fresh);
  // A removed copy starts again from scratch.
  draft.remove(key);
  draft.sync(key, accepted);
  EXPECT_EQ(row_of(draft.step(keys), key, n_vocab), fresh);
}

TEST(EngineCore, TruncateRollsBackTokensAndPositions) {
  EngineCore core(model(), {.threads = 1, .context = 64, .max_sequences = 1});
  const int64_t id = core.add_sequence(
      {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58}, 10);
  core.step();
  core.truncate(id, 5);
  EXPECT_EQ(core.sequence(id).tokens.size(), 5u);
  EXPECT_EQ(core.sequence(id).n_computed, 5);
  EXPECT_THROW(core.truncate(id, 0), std::exception);
  EXPECT_THROW(core.truncate(id, 6), std::exception);
}

}  // namespace
}  // namespace loom
