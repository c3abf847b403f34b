// Prefix caching through the public API: a conversation's requests give the same replies
// (tokens and logprobs, greedy, seeded sampling with n > 1, beam search) with the cache on
// and off, on architectures with and without sliding windows, soft-caps and ALiBi; the
// reply reports how many prompt tokens came from the cache.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom {
namespace {

const std::string kShared = LOOM_SHARED_DIR;

std::vector<Request> conversation(const Model& model) {
  const std::string story =
      "Once upon a time there was a little girl named Lily. She liked to play outside in the "
      "park with her friends. One day she saw a big red ball under a tree.";
  std::vector<int32_t> first = model.tokenize(story);
  std::vector<int32_t> second = first;
  for (int32_t t : model.tokenize(" Then her mom called her home.", false)) second.push_back(t);
  std::vector<Request> requests;
  for (const auto& prompt : {first, second, first}) {
    Request greedy{.prompt_tokens = prompt, .max_tokens = 12, .logprobs = 3};
    greedy.sampling.temperature = 0;
    requests.push_back(greedy);
    Request sampled{.prompt_tokens = prompt, .max_tokens = 12, .logprobs = 2, .n = 2};
    sampled.sampling.seed = 7;
    requests.push_back(sampled);
    Request beams{.prompt_tokens = prompt, .max_tokens = 8, .n = 2, .num_beams = 2};
    requests.push_back(beams);
  }
  return requests;
}

class PrefixCacheApi : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefixCacheApi, RepliesAreIdenticalWithTheCacheOnAndOff) {
  auto model = Model::load(kShared + "/" + GetParam());
  Engine cached(model, {.threads = 2, .context = 256, .max_sequences = 2});
  Engine uncached(model, {.threads = 2, .context = 256, .max_sequences = 2, .prefix_cache = false});
  int64_t reused = 0;
  for (const Request& request : conversation(*model)) {
    const Completion a = cached.generate(request);
    const Completion b = uncached.generate(request);
    EXPECT_EQ(b.timings.cached_prompt_tokens, 0);
    reused += a.timings.cached_prompt_tokens;
    ASSERT_EQ(a.choices.size(), b.choices.size());
    for (size_t i = 0; i < a.choices.size(); ++i) {
      EXPECT_EQ(a.choices[i].tokens, b.choices[i].tokens) << "choice " << i;
      EXPECT_EQ(a.choices[i].cumulative_logprob, b.choices[i].cumulative_logprob);
      ASSERT_EQ(a.choices[i].logprobs.size(), b.choices[i].logprobs.size());
      for (size_t t = 0; t < a.choices[i].logprobs.size(); ++t) {
        EXPECT_EQ(a.choices[i].logprobs[t].logprob, b.choices[i].logprobs[t].logprob);
        EXPECT_EQ(a.choices[i].logprobs[t].top, b.choices[i].logprobs[t].top);
      }
    }
  }
  EXPECT_GT(reused, 0);
  const EngineStats stats = cached.stats();
  EXPECT_EQ(stats.prefix_cache_hit_tokens, reused);
  EXPECT_GT(stats.prefix_cache_queried_tokens, stats.prefix_cache_hit_tokens);
  EXPECT_EQ(stats.kv_used_tokens, 0);
  EXPECT_GT(stats.kv_cached_tokens, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, PrefixCacheApi,
                         ::testing::Values("models/stories260K.gguf",
                                           "models/stories260K-q4_0.gguf",
                                           "reference/arch/gemma2.gguf",
                                           "reference/arch/starcoder2.gguf",
                                           "reference/arch/mpt.gguf", "reference/arch/qwen3.gguf"),
                         [](const auto& info) {
                           std::string name = info.param.substr(info.param.rfind('/') + 1);
                           for (char& c : name)
                             if (c == '.' || c == '-') c = '_';
                           return name;
                         });

TEST(PrefixCacheApi, SecondTurnReportsItsCachedTokens) {
  auto model = Model::load(kShared + "/models/stories260K.gguf");
  Engine engine(model, {.threads = 1, .context = 256});
  Request first{.prompt =
                    "Once upon a time there was a little girl named Lily. She liked to play "
                    "outside in the park with her friends.",
                .max_tokens = 20};
  first.sampling.temperature = 0;
  const Completion a = engine.generate(first);
  EXPECT_EQ(a.timings.cached_prompt_tokens, 0);
  Request second = first;
  second.prompt_tokens = model->tokenize(first.prompt);
  const int64_t n_first = static_cast<int64_t>(second.prompt_tokens.size());
  for (int32_t t : a.first().tokens) second.prompt_tokens.push_back(t);
  for (int32_t t : model->tokenize(" The end.", false)) second.prompt_tokens.push_back(t);
  const Completion b = engine.generate(second);
  // Every full block of the first turn's prompt and reply (only its last sampled token
  // was never computed).
  const int64_t computed = n_first + static_cast<int64_t>(a.first().tokens.size()) - 1;
  EXPECT_EQ(b.timings.cached_prompt_tokens, computed / 16 * 16);
}

}  // namespace
}  // namespace loom
