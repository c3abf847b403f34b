// A model whose every layer has a sliding window: the KV cache frees the blocks that have
// left the window as the sequence grows, and what is computed does not change.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/edited_gguf.h"
#include "core/error.h"
#include "model/transformer.h"
#include "runtime/engine_core.h"

namespace loom {
namespace {

const std::string kLlama = std::string(LOOM_SHARED_DIR) + "/reference/arch/llama3-ropefreqs.gguf";

TEST(SlidingWindowKv, BlocksThatLeftTheWindowAreFreedAndResultsDoNotChange) {
  constexpr int64_t kWindow = 20;
  const testing_support::EditedGguf file = testing_support::mistral_with_window(kLlama, kWindow);
  const std::shared_ptr<const Transformer> model = Transformer::load(file.file());
  ASSERT_EQ(model->attention_span(), kWindow);
  const int64_t n_vocab = model->config().n_vocab;

  EngineCore core(model, {.threads = 2, .context = 256, .max_sequences = 2});
  std::vector<int32_t> tokens = {1, 40, 41, 42, 43, 44, 45, 46};
  const int64_t id = core.add_sequence(tokens, 150);
  std::vector<std::vector<float>> step_logits;
  int64_t most_used = 0;
  for (int i = 0; i < 150; ++i) {
    const auto outputs = core.step();
    ASSERT_EQ(outputs.size(), 1u);
    ASSERT_NE(outputs[0].logits, nullptr) << outputs[0].error;
    step_logits.emplace_back(outputs[0].logits, outputs[0].logits + n_vocab);
    most_used = std::max(most_used, core.kv_used_tokens());
    const int32_t next = static_cast<int32_t>(50 + (i * 37) % 400);
    tokens.push_back(next);
    core.append_token(id, next);
  }
  // A window of 20 positions spans at most 3 blocks of 16 (plus none left behind).
  EXPECT_LE(most_used, 3 * KvCache::kDefaultBlockSize);
  const std::vector<int32_t>& table = core.kv_cache().block_table(core.sequence(id).kv_slot);
  EXPECT_EQ(table.front(), KvCache::kNoBlock);

  // The same positions computed in one pass (nothing freed before the end) agree bit for bit.
  std::vector<float> all(tokens.size() * n_vocab);
  core.evaluate(tokens, all.data());
  const size_t n_prompt = 8;
  for (size_t i = 0; i < step_logits.size(); ++i) {
    const float* row = all.data() + (n_prompt - 1 + i) * n_vocab;
    ASSERT_EQ(std::memcmp(row, step_logits[i].data(), n_vocab * sizeof(float)), 0)
        << "position " << n_prompt - 1 + i;
  }
  core.remove_sequence(id);
  EXPECT_EQ(core.kv_used_tokens(), 0);
}

TEST(SlidingWindowKv, ModelsWithAGlobalLayerKeepEveryBlock) {
  const std::shared_ptr<const Transformer> model = Transformer::load(
      gguf::GgufFile::open(std::string(LOOM_SHARED_DIR) + "/reference/arch/gemma3.gguf"));
  EXPECT_EQ(model->attention_span(), 0);  // layer 5 is global
}

TEST(SlidingWindowKv, ReleasedPositionsCannotBeWrittenAgain) {
  KvCache kv(1, 1, 64, 32, DType::F16);
  kv.reserve(0, 0, 40);
  EXPECT_EQ(kv.n_used_blocks(), 3);
  kv.release_before(0, 33);
  EXPECT_EQ(kv.n_used_blocks(), 1);
  EXPECT_EQ(kv.block_table(0)[0], KvCache::kNoBlock);
  EXPECT_EQ(kv.block_table(0)[1], KvCache::kNoBlock);
  EXPECT_THROW(kv.reserve(0, 0, 41), Error);
  kv.release(0);
  EXPECT_EQ(kv.n_used_blocks(), 0);
}

TEST(LearnedPositions, AContextPastTheLearnedPositionsIsRefused) {
  const std::shared_ptr<const Transformer> model = Transformer::load(
      gguf::GgufFile::open(std::string(LOOM_SHARED_DIR) + "/reference/arch/gpt2.gguf"));
  try {
    EngineCore core(model, {.threads = 1, .context = 512});
    FAIL() << "a context of 512 was accepted for 256 learned positions";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("256 learned positions"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace loom
