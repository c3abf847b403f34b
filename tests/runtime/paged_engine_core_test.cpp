// The engine core over the paged KV cache, on the real stories260K model: memory follows
// actual lengths, forks share the prefill's blocks (and compute what a fresh sequence
// computes), removing sequences returns every block, and a full cache makes sequences
// wait or fail with a clear error instead of corrupting anything.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/stories_transformer.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/transformer.h"
#include "runtime/engine_core.h"

namespace loom {
namespace {

std::shared_ptr<const Transformer> model() {
  return testing_support::stories_transformer();
}

std::vector<int32_t> prompt(int n) {
  std::vector<int32_t> tokens{1};
  for (int i = 1; i < n; ++i) tokens.push_back(static_cast<int32_t>(30 + 7 * i % 400));
  return tokens;
}

std::vector<float> logits_of(std::span<const EngineCore::Output> outputs, int64_t id,
                             int64_t n_vocab) {
  for (const auto& o : outputs) {
    if (o.sequence_id == id && o.logits != nullptr) return {o.logits, o.logits + n_vocab};
  }
  return {};
}

TEST(PagedEngineCore, TenTokensHoldOneBlock) {
  EngineCore core(model(), {.threads = 1, .context = 256, .max_sequences = 4});
  EXPECT_EQ(core.kv_capacity_tokens(), 4 * 256);
  const int64_t id = core.add_sequence(prompt(10), 20);
  core.step();
  EXPECT_EQ(core.kv_used_tokens(), KvCache::kDefaultBlockSize);
  EXPECT_EQ(core.kv_cache().block_table(core.sequence(id).kv_slot).size(), 1u);
  core.remove_sequence(id);
  EXPECT_EQ(core.kv_used_tokens(), 0);
}

TEST(PagedEngineCore, ForksShareTheParentsBlocksAndComputeTheSame) {
  // Without the prefix cache, which would hold one more reference to the full block.
  EngineCore core(model(),
                  {.threads = 2, .context = 128, .max_sequences = 5, .prefix_cache = false});
  const int64_t n_vocab = core.config().n_vocab;
  const int64_t parent = core.add_sequence(prompt(20), 10);  // one full block + 4 positions
  ASSERT_EQ(core.step().size(), 1u);
  std::vector<int64_t> forks;
  for (int i = 0; i < 3; ++i) forks.push_back(core.fork_sequence(parent));
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 2);  // shared, nothing copied
  const KvCache& kv = core.kv_cache();
  for (int64_t f : forks) {
    EXPECT_EQ(kv.block_table(core.sequence(f).kv_slot),
              kv.block_table(core.sequence(parent).kv_slot));
  }
  // Every sequence appends a different token; each writes position 20 into its own copy
  // of the shared partial block, the full block stays shared.
  core.append_token(parent, 40);
  for (int i = 0; i < 3; ++i) core.append_token(forks[i], 41 + i);
  const auto outputs = core.step();
  ASSERT_EQ(outputs.size(), 4u);
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 1 + 4);
  EXPECT_EQ(kv.ref_count(kv.block_table(core.sequence(parent).kv_slot)[0]), 4);

  // A fork's logits equal those of a fresh sequence holding the same tokens.
  const std::vector<float> fork_logits = logits_of(outputs, forks[1], n_vocab);
  std::vector<int32_t> tokens = prompt(20);
  tokens.push_back(42);
  const int64_t fresh = core.add_sequence(tokens, 5);
  const std::vector<float> fresh_logits = logits_of(core.step(), fresh, n_vocab);
  ASSERT_FALSE(fresh_logits.empty());
  EXPECT_EQ(fork_logits, fresh_logits);

  for (int64_t f : forks) core.remove_sequence(f);
  core.remove_sequence(parent);
  core.remove_sequence(fresh);
  EXPECT_EQ(core.kv_used_tokens(), 0);
}

TEST(PagedEngineCore, CopySequenceSharesInsteadOfCopying) {
  EngineCore core(model(), {.threads = 1, .context = 128, .max_sequences = 2});
  const int64_t a = core.add_sequence(prompt(40), 10);
  const int64_t b = core.add_sequence(prompt(3), 10);
  core.step();
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 3 + 1);
  core.copy_sequence(a, b);  // beam search: b becomes a copy of a
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 3);
  EXPECT_EQ(core.sequence(b).n_computed, 40);
  EXPECT_EQ(core.sequence(b).tokens, core.sequence(a).tokens);
}

TEST(PagedEngineCore, FullCacheMakesSequencesWaitThenFailsTheNewest) {
  // Two blocks in all: the first sequence takes both, the second waits for one.
  EngineCore core(model(), {.threads = 1, .context = 64, .max_sequences = 2, .kv_tokens = 32});
  EXPECT_EQ(core.kv_capacity_tokens(), 32);
  EXPECT_TRUE(core.can_admit(20, 1));
  const int64_t first = core.add_sequence(prompt(20), 40);
  EXPECT_FALSE(core.can_admit(5, 1));  // the first's pending prompt is promised the pool
  auto outputs = core.step();
  ASSERT_EQ(outputs.size(), 1u);
  const int64_t second = core.add_sequence(prompt(5), 40);
  // The first grows to 32 positions in its two blocks while the second waits.
  for (int i = 0; i < 12; ++i) {
    core.append_token(first, 50);
    outputs = core.step();
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].sequence_id, first);
    EXPECT_TRUE(outputs[0].error.empty());
    EXPECT_EQ(core.sequence(second).n_computed, 0);
  }
  // The 33rd position needs a third block.
  core.append_token(first, 50);
  outputs = core.step();  // nobody can advance: the newest stuck sequence fails
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].sequence_id, second);
  EXPECT_EQ(outputs[0].logits, nullptr);
  EXPECT_NE(outputs[0].error.find("KV cache is full"), std::string::npos) << outputs[0].error;
  core.remove_sequence(second);
  outputs = core.step();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].sequence_id, first);
  EXPECT_FALSE(outputs[0].error.empty());
  EXPECT_EQ(core.sequence(first).n_computed, 32);  // nothing was computed or corrupted
  core.remove_sequence(first);
  EXPECT_EQ(core.kv_used_tokens(), 0);
  EXPECT_TRUE(core.can_admit(31, 1));
  EXPECT_THROW(core.check_fits(32, 1), Error);  // 33 positions: three blocks
  EXPECT_NO_THROW(core.check_fits(31, 1));
}

TEST(PagedEngineCore, ALongPrefillIsSplitToWhatFits) {
  // Without the prefix cache: the two prompts share their first block.
  EngineCore core(
      model(),
      {.threads = 1, .context = 64, .max_sequences = 2, .kv_tokens = 48, .prefix_cache = false});
  const int64_t a = core.add_sequence(prompt(20), 4);  // two blocks
  core.step();
  const int64_t b = core.add_sequence(prompt(40), 4);  // needs three, one is free
  EXPECT_TRUE(core.step().empty());
  EXPECT_EQ(core.sequence(b).n_computed, 16);  // one block's worth, the rest waits
  core.remove_sequence(a);
  const auto outputs = core.step();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].sequence_id, b);
  EXPECT_TRUE(outputs[0].error.empty());
  EXPECT_EQ(core.sequence(b).n_computed, 40);
}

TEST(PagedEngineCore, EvaluateReturnsItsBlocks) {
  EngineCore core(model(), {.threads = 1, .context = 64, .max_sequences = 1});
  std::vector<float> out(40 * core.config().n_vocab);
  const std::vector<int32_t> tokens = prompt(40);
  core.evaluate(tokens, out.data());
  EXPECT_EQ(core.kv_used_tokens(), 0);
  EXPECT_EQ(core.free_slots(), 1);
}

}  // namespace
}  // namespace loom
