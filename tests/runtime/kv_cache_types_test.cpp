// KV cache options through the public API on stories260K: a Q8_0 cache stays close to
// the F16 default (the same greedy tokens), and a small --kv-tokens budget refuses
// prompts it can never hold, fails a request that outgrows it with a clear error, and
// keeps serving afterwards with every block returned.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/engine_helpers.h"
#include "loom/loom.h"

namespace loom {
namespace {

using testing_support::error_of;
using testing_support::greedy;

std::shared_ptr<Model> model() {
  static std::shared_ptr<Model> m =
      Model::load(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf");
  return m;
}

std::vector<int32_t> greedy_ids(const std::string& kv_type, const std::string& prompt) {
  Engine engine(model(), {.threads = 2, .kv_type = kv_type});
  return engine.generate(greedy(prompt, 16)).first().tokens;
}

TEST(KvCacheTypes, Q8_0GreedyMatchesF16) {
  const std::vector<int32_t> f16 = greedy_ids("f16", "Once upon a time");
  ASSERT_EQ(f16.size(), 16u);
  EXPECT_EQ(greedy_ids("q8_0", "Once upon a time"), f16);
  EXPECT_EQ(greedy_ids("f32", "Once upon a time"), f16);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Over the reference story text, Q8_0 costs little: measured perplexity 3.4328 against
// F16's 3.4257 (+0.2%), so a bound of 1% catches a broken quantizer or reader (a wrong
// scale or element order moves it by far more) without depending on near-ties.
TEST(KvCacheTypes, Q8_0PerplexityWithinOnePercentOfF16) {
  const std::string text = read_text(std::string(LOOM_SHARED_DIR) + "/reference/stories-text.txt");
  ASSERT_FALSE(text.empty());
  Engine f16(model(), {.threads = 2, .kv_type = "f16"});
  Engine q8(model(), {.threads = 2, .kv_type = "q8_0"});
  const double p16 = perplexity(f16, *model(), text, {}).perplexity;
  const double p8 = perplexity(q8, *model(), text, {}).perplexity;
  EXPECT_NEAR(p16, 3.4257, 0.01);
  EXPECT_NE(p8, p16);  // the cache really is quantized
  EXPECT_LT(std::abs(p8 / p16 - 1.0), 0.01) << p8 << " vs " << p16;
}

TEST(KvCacheTypes, UnknownTypeNamesTheChoices) {
  const std::string message = error_of([] { Engine e(model(), {.kv_type = "q4_0"}); });
  EXPECT_NE(message.find("'q8_0'"), std::string::npos) << message;
}

TEST(KvBudget, PromptLargerThanTheCacheIsRefusedAtSubmit) {
  Engine engine(model(), {.threads = 1, .context = 256, .kv_tokens = 32});
  std::string long_prompt;  // about 50 tokens: within the context, beyond the cache
  for (int i = 0; i < 10; ++i) long_prompt += "Once upon a time ";
  const std::string message = error_of([&] { engine.generate(greedy(long_prompt, 4)); });
  EXPECT_NE(message.find("KV cache"), std::string::npos) << message;
}

TEST(KvBudget, RequestOutgrowingTheCacheFailsAndTheEngineGoesOn) {
  Engine engine(model(), {.threads = 1, .context = 256, .max_sequences = 2, .kv_tokens = 32});
  EXPECT_EQ(engine.stats().kv_capacity_tokens, 32);
  const std::string message = error_of([&] { engine.generate(greedy("Once upon a time", 100)); });
  EXPECT_NE(message.find("KV cache is full"), std::string::npos) << message;
  // What fits still runs, and nothing stays allocated.
  EXPECT_EQ(engine.generate(greedy("Once upon a time", 20)).first().tokens.size(), 20u);
  EngineStats s;
  for (int i = 0; i < 100 && (s = engine.stats()).kv_used_tokens != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(s.kv_used_tokens, 0);
}

}  // namespace
}  // namespace loom
