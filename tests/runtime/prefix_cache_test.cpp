// Prefix caching in the engine core, on the real stories260K models (F32, Q8_0, Q4_0): a
// prompt that starts like an earlier sequence's tokens takes its full blocks, the logits
// are bit-identical to computing everything, cached blocks are evicted when room is
// needed (never failing a sequence), and only running sequences count as KV in use.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/transformer.h"
#include "runtime/engine_core.h"

namespace loom {
namespace {

constexpr int64_t kBlock = KvCache::kDefaultBlockSize;

std::shared_ptr<const Transformer> load(const std::string& name) {
  auto file = std::shared_ptr<const gguf::GgufFile>(
      gguf::GgufFile::open(std::string(LOOM_SHARED_DIR) + "/models/" + name));
  return std::shared_ptr<const Transformer>(Transformer::load(file));
}

std::vector<int32_t> tokens(int n, int salt = 0) {
  std::vector<int32_t> t{1};
  for (int i = 1; i < n; ++i) t.push_back(static_cast<int32_t>(30 + (7 * i + 13 * salt) % 400));
  return t;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Steps until `id` produces its logits row.
std::vector<float> run_to_logits(EngineCore& core, int64_t id) {
  for (int guard = 0; guard < 1000; ++guard) {
    for (const auto& o : core.step()) {
      EXPECT_TRUE(o.error.empty()) << o.error;
      if (o.sequence_id == id && o.logits != nullptr)
        return {o.logits, o.logits + core.config().n_vocab};
    }
  }
  ADD_FAILURE() << "sequence " << id << " never produced logits";
  return {};
}

// Logits after `prompt` from a core without a prefix cache: the reference.
std::vector<float> uncached_logits(std::shared_ptr<const Transformer> model,
                                   const std::vector<int32_t>& prompt) {
  EngineCore core(std::move(model), {.threads = 2, .context = 256, .prefix_cache = false});
  return run_to_logits(core, core.add_sequence(prompt, 1));
}

class PrefixCacheModels : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefixCacheModels, SharedPrefixIsReusedAndLogitsAreIdentical) {
  auto model = load(GetParam());
  EngineCore core(model, {.threads = 2, .context = 256, .max_sequences = 2});
  const std::vector<int32_t> shared = tokens(40);
  const int64_t first = core.add_sequence(concat(shared, tokens(5, 1)), 1);
  EXPECT_EQ(core.sequence(first).n_cached, 0);
  run_to_logits(core, first);
  core.remove_sequence(first);
  EXPECT_EQ(core.kv_used_tokens(), 0) << "cached blocks are not in use";
  EXPECT_EQ(core.kv_cached_tokens(), 2 * kBlock);  // the two full blocks of 45 tokens

  const std::vector<int32_t> second_prompt = concat(shared, tokens(9, 2));
  const int64_t second = core.add_sequence(second_prompt, 1);
  EXPECT_EQ(core.sequence(second).n_cached, 2 * kBlock);
  const int64_t prompt_positions = core.counters().prompt_positions;
  const std::vector<float> cached = run_to_logits(core, second);
  EXPECT_EQ(core.counters().prompt_positions - prompt_positions,
            static_cast<int64_t>(second_prompt.size()) - 2 * kBlock)
      << "only the positions after the cached blocks are computed";
  EXPECT_EQ(cached, uncached_logits(model, second_prompt));
  EXPECT_EQ(core.prefix_cache_counters().queried_tokens, 45 + 49);
  EXPECT_EQ(core.prefix_cache_counters().hit_tokens, 2 * kBlock);
}

TEST_P(PrefixCacheModels, WholePromptCachedStillComputesItsLastPosition) {
  auto model = load(GetParam());
  EngineCore core(model, {.threads = 2, .context = 256, .max_sequences = 2});
  const std::vector<int32_t> prompt = tokens(3 * kBlock);
  const int64_t first = core.add_sequence(prompt, 1);
  const std::vector<float> expected = run_to_logits(core, first);
  // The first sequence still runs: its blocks are shared, and the last one is copied
  // before the second sequence writes its last prompt position into it.
  const int64_t second = core.add_sequence(prompt, 1);
  EXPECT_EQ(core.sequence(second).n_cached, 3 * kBlock - 1);
  EXPECT_EQ(run_to_logits(core, second), expected);
  EXPECT_EQ(expected, uncached_logits(model, prompt));
}

TEST_P(PrefixCacheModels, GeneratedTokensAreCachedToo) {
  // A chat turn: the next prompt is the previous prompt, the reply, and new tokens.
  auto model = load(GetParam());
  EngineCore core(model, {.threads = 2, .context = 256});
  const std::vector<int32_t> prompt = tokens(10);
  const int64_t turn = core.add_sequence(prompt, 40);
  std::vector<int32_t> history = prompt;
  for (int i = 0; i < 30; ++i) {
    run_to_logits(core, turn);
    const int32_t next = static_cast<int32_t>(100 + i);
    core.append_token(turn, next);
    history.push_back(next);
  }
  run_to_logits(core, turn);  // computes the last appended token
  core.remove_sequence(turn);
  const std::vector<int32_t> next_prompt = concat(history, tokens(6, 3));
  const int64_t next = core.add_sequence(next_prompt, 1);
  EXPECT_EQ(core.sequence(next).n_cached, 2 * kBlock);  // 40 computed: two full blocks
  EXPECT_EQ(run_to_logits(core, next), uncached_logits(model, next_prompt));
}

INSTANTIATE_TEST_SUITE_P(Models, PrefixCacheModels,
                         ::testing::Values("stories260K.gguf", "stories260K-q8_0.gguf",
                                           "stories260K-q4_0.gguf"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '.' || c == '-') c = '_';
                           return name;
                         });

TEST(PrefixCache, DifferentTokensDoNotMatch) {
  EngineCore core(load("stories260K.gguf"), {.threads = 1, .context = 128});
  run_to_logits(core, core.add_sequence(tokens(40), 1));
  core.remove_sequence(1);
  const int64_t other = core.add_sequence(tokens(40, 5), 1);
  EXPECT_EQ(core.sequence(other).n_cached, 0);
  // Same second block, different first block: the chain makes it a miss.
  std::vector<int32_t> changed_first = tokens(40);
  changed_first[3] += 1;
  core.remove_sequence(other);
  EXPECT_EQ(core.sequence(core.add_sequence(changed_first, 1)).n_cached, 0);
}

TEST(PrefixCache, EvictsCachedBlocksWhenSequencesNeedRoom) {
  // Four blocks in all: each prompt of three blocks leaves its blocks cached, and the next
  // different prompt must evict them to run.
  EngineCore core(load("stories260K.gguf"),
                  {.threads = 1, .context = 64, .max_sequences = 1, .kv_tokens = 4 * kBlock});
  for (int salt = 0; salt < 4; ++salt) {
    ASSERT_TRUE(core.can_admit(3 * kBlock, 1)) << "cached blocks count as free";
    const int64_t id = core.add_sequence(tokens(3 * kBlock, salt), 10);
    run_to_logits(core, id);
    for (int i = 0; i < 10; ++i) {
      core.append_token(id, 50);
      run_to_logits(core, id);
    }
    core.remove_sequence(id);
    EXPECT_EQ(core.kv_used_tokens(), 0);
    EXPECT_GT(core.kv_cached_tokens(), 0);
  }
  // The latest prompt is still cached (the oldest were evicted first).
  const int64_t again = core.add_sequence(tokens(3 * kBlock, 3), 1);
  EXPECT_EQ(core.sequence(again).n_cached, 3 * kBlock - 1);
}

TEST(PrefixCache, OffMeansNoReuse) {
  EngineCore core(load("stories260K.gguf"), {.threads = 1, .context = 128, .prefix_cache = false});
  run_to_logits(core, core.add_sequence(tokens(40), 1));
  core.remove_sequence(1);
  EXPECT_EQ(core.kv_cached_tokens(), 0);
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 0);
  EXPECT_EQ(core.sequence(core.add_sequence(tokens(40), 1)).n_cached, 0);
}

TEST(PrefixCache, ClearReturnsEveryBlock) {
  EngineCore core(load("stories260K.gguf"), {.threads = 1, .context = 128});
  run_to_logits(core, core.add_sequence(tokens(50), 1));
  core.remove_sequence(1);
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 3);
  core.clear_prefix_cache();
  EXPECT_EQ(core.kv_cache().n_used_blocks(), 0);
}

}  // namespace
}  // namespace loom
