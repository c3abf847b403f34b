// The decoding controls through the public API on the real stories260K model: stop
// strings as the user sees the stream, n / best_of sharing one prefill, beam search
// against greedy and exhaustive search, logprobs, errors, and continuous batching.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <thread>

#include "common/engine_helpers.h"
#include "loom/loom.h"

namespace loom {
namespace {

using testing_support::greedy;

const std::string kModel = std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf";
// The reference's greedy continuation of "Once upon a time" starts with this text.
const std::string kGreedy = ", there was a little girl named Lily. She loved to play";

std::shared_ptr<Model> model() {
  static std::shared_ptr<Model> m = Model::load(kModel);
  return m;
}

// Generates and returns the completion together with the streamed text of choice 0.
std::pair<Completion, std::string> streamed(Engine& engine, const Request& r) {
  std::string shown;
  Completion c = engine.generate(r, [&](const TokenEvent& e) {
    if (e.index == 0) shown += e.text;
  });
  return {std::move(c), shown};
}

TEST(StopStrings, SplitAcrossTokensNotIncludedAndNotStreamed) {
  Engine engine(model(), {.threads = 2});
  Request r = greedy("Once upon a time", 40);
  r.stop = {"little girl"};  // several tokens: " little" " girl"
  auto [c, shown] = streamed(engine, r);
  EXPECT_EQ(c.first().text, ", there was a ");
  EXPECT_EQ(shown, c.first().text);
  EXPECT_EQ(c.first().finish_reason, FinishReason::kStop);
}

TEST(StopStrings, OverlappingAndAtTheVeryStart) {
  Engine engine(model(), {.threads = 2});
  Request r = greedy("Once upon a time", 40);
  r.stop = {"named Lily", "Lily."};
  auto [c, shown] = streamed(engine, r);
  EXPECT_EQ(c.first().text, ", there was a little girl ");
  EXPECT_EQ(shown, c.first().text);
  r.stop = {", th"};
  auto [d, shown_d] = streamed(engine, r);
  EXPECT_EQ(d.first().text, "");
  EXPECT_EQ(shown_d, "");
  EXPECT_EQ(d.first().finish_reason, FinishReason::kStop);
}

TEST(StopStrings, FalseStartsAreReleasedInOrder) {
  Engine engine(model(), {.threads = 2});
  Request r = greedy("Once upon a time", 16);
  r.stop = {"Lily!"};  // "Lily" appears, "Lily!" does not
  auto [c, shown] = streamed(engine, r);
  EXPECT_EQ(c.first().text, kGreedy);
  EXPECT_EQ(shown, kGreedy);
  EXPECT_EQ(c.first().finish_reason, FinishReason::kLength);
}

TEST(StopTokens, EndWithoutTheToken) {
  Engine engine(model(), {.threads = 2});
  Request r = greedy("Once upon a time", 40);
  r.stop_tokens = {286};  // " was", the third greedy token
  const Completion c = engine.generate(r);
  EXPECT_EQ(c.first().tokens, (std::vector<int32_t>{432, 383}));
  EXPECT_EQ(c.first().finish_reason, FinishReason::kStop);
  r.min_tokens = 3;  // now it may not end there
  const Completion d = engine.generate(r);
  EXPECT_GE(d.first().tokens.size(), 3u);
  EXPECT_NE(d.first().tokens[2], 286);
}

TEST(NSamples, OnePrefillAndReproducible) {
  Engine engine(model(), {.threads = 2, .max_sequences = 8});
  Request r;
  r.prompt = "Once upon a time";
  r.max_tokens = 24;
  r.ignore_eos = true;
  r.n = 8;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 1234;
  const int64_t before = engine.stats().prompt_tokens_total;
  const Completion a = engine.generate(r);
  EXPECT_EQ(engine.stats().prompt_tokens_total - before, 5);  // the 5 prompt tokens, once
  EXPECT_EQ(a.timings.prompt_evaluations, 1);
  ASSERT_EQ(a.choices.size(), 8u);
  const Completion b = engine.generate(r);
  int distinct = 0;
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(a.choices[i].tokens, b.choices[i].tokens) << "choice " << i;
    EXPECT_EQ(a.choices[i].index, static_cast<int32_t>(i));
    if (i > 0 && a.choices[i].tokens != a.choices[0].tokens) ++distinct;
  }
  EXPECT_GT(distinct, 0);
}

TEST(BestOf, ReturnsTheNBestByMeanLogprob) {
  Engine engine(model(), {.threads = 2, .max_sequences = 6});
  Request r;
  r.prompt = "Lily wanted to play outside";
  r.max_tokens = 16;
  r.ignore_eos = true;
  r.n = 2;
  r.best_of = 6;
  r.sampling.temperature = 1.2f;
  r.sampling.seed = 5;
  const Completion c = engine.generate(r);
  ASSERT_EQ(c.choices.size(), 2u);
  const auto mean = [](const Choice& x) { return x.cumulative_logprob / x.tokens.size(); };
  EXPECT_GE(mean(c.choices[0]), mean(c.choices[1]));
}

TEST(Logprobs, TopAlternativesFromTheFullDistribution) {
  Engine engine(model(), {.threads = 2});
  Request r = greedy("Once upon a time", 6);
  r.logprobs = 5;
  const Completion c = engine.generate(r);
  ASSERT_EQ(c.first().logprobs.size(), 6u);
  for (const TokenLogprob& t : c.first().logprobs) {
    ASSERT_EQ(t.top.size(), 5u);
    EXPECT_EQ(t.top[0].first, t.token);  // greedy picks the most likely
    EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
    EXPECT_LE(t.logprob, 0.0f);
    for (size_t i = 1; i < t.top.size(); ++i) EXPECT_LE(t.top[i].second, t.top[i - 1].second);
  }
  // The first token: softmax of the reference's logits gives 432 a probability of ~0.96.
  EXPECT_NEAR(std::exp(c.first().logprobs[0].logprob), 0.96, 0.03);
}

double sum_logprob(Engine& engine, const std::vector<int32_t>& prompt,
                   const std::vector<int32_t>& continuation) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), continuation.begin(), continuation.end());
  const std::vector<float> logits = engine.evaluate(all);
  const int64_t n_vocab = model()->info().n_vocab;
  double total = 0;
  for (size_t i = 0; i < continuation.size(); ++i) {
    const float* row = logits.data() + (prompt.size() - 1 + i) * n_vocab;
    double sum = 0;
    float max = row[0];
    for (int64_t v = 0; v < n_vocab; ++v) max = std::max(max, row[v]);
    for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max));
    total += row[continuation[i]] - max - std::log(sum);
  }
  return total;
}

TEST(BeamSearch, OneBeamIsGreedy) {
  Engine engine(model(), {.threads = 2, .max_sequences = 4});
  Request r = greedy("The sun was hot and the bird", 32);
  const Completion g = engine.generate(r);
  r.num_beams = 1;
  const Completion b = engine.generate(r);
  EXPECT_EQ(b.first().tokens, g.first().tokens);
}

TEST(BeamSearch, FourBeamsScoreAtLeastGreedy) {
  Engine engine(model(), {.threads = 2, .max_sequences = 4});
  for (const char* prompt : {"Once upon a time", "Sam had a toy car. He liked to"}) {
    Request r = greedy(prompt, 24);
    const Completion g = engine.generate(r);
    r.num_beams = 4;
    r.length_penalty = 0.0f;  // compare total log-probabilities
    const Completion b = engine.generate(r);
    const std::vector<int32_t> p = model()->tokenize(prompt);
    const double greedy_total = sum_logprob(engine, p, g.first().tokens);
    EXPECT_NEAR(b.first().cumulative_logprob, sum_logprob(engine, p, b.first().tokens), 1e-3);
    EXPECT_GE(b.first().cumulative_logprob, greedy_total - 1e-6) << prompt;
  }
}

TEST(BeamSearch, EnoughBeamsFindTheExhaustiveBest) {
  // Two tokens over a 512-token vocabulary: 512 beams cover the whole search space.
  Engine engine(model(), {.threads = 2, .context = 16, .max_sequences = 512});
  const std::vector<int32_t> prompt = model()->tokenize("The little dog");
  const int64_t n_vocab = model()->info().n_vocab;
  double best = -INFINITY;
  std::vector<int32_t> best_tokens;
  const std::vector<float> first = engine.evaluate(prompt);
  for (int32_t t1 = 0; t1 < n_vocab; ++t1) {
    std::vector<int32_t> seq = prompt;
    seq.push_back(t1);
    const std::vector<float> logits = engine.evaluate(seq);
    const float* row1 = first.data() + (prompt.size() - 1) * n_vocab;
    const float* row2 = logits.data() + prompt.size() * n_vocab;
    auto lse = [&](const float* row) {
      float max = row[0];
      for (int64_t v = 0; v < n_vocab; ++v) max = std::max(max, row[v]);
      double sum = 0;
      for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max));
      return max + std::log(sum);
    };
    const double lp1 = row1[t1] - lse(row1);
    const double lse2 = lse(row2);
    for (int32_t t2 = 0; t2 < n_vocab; ++t2) {
      const double total = lp1 + row2[t2] - lse2;
      if (total > best) {
        best = total;
        best_tokens = {t1, t2};
      }
    }
  }
  Request r;
  r.prompt_tokens = prompt;
  r.max_tokens = 2;
  r.ignore_eos = true;
  r.num_beams = 512;
  r.length_penalty = 0.0f;
  const Completion b = engine.generate(r);
  EXPECT_EQ(b.first().tokens, best_tokens);
  EXPECT_NEAR(b.first().cumulative_logprob, best, 1e-3);
}

TEST(Requests, BadValuesAreErrorsNamingTheField) {
  Engine engine(model(), {.threads = 1, .max_sequences = 2});
  auto error_of = [&](auto mutate) {
    Request r = greedy("Hi", 4);
    mutate(r);
    try {
      engine.generate(r);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of([](Request& r) { r.n = 0; }).find("n must"), std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.n = 2, r.best_of = 1; }).find("best_of"),
            std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.n = 3; }).find("--parallel"), std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.logprobs = 21; }).find("logprobs"), std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.sampling.top_k = -1; }).find("top_k"), std::string::npos);
  EXPECT_NE(error_of([](Request& r) {
              r.sampling.logit_bias = {{600, 1.0f}};
            }).find("logit_bias"),
            std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.stop_tokens = {9999}; }).find("stop token"),
            std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.min_tokens = 9; }).find("min_tokens"), std::string::npos);
  EXPECT_NE(error_of([](Request& r) { r.sampling.repetition_penalty = 0; }).find("repetition"),
            std::string::npos);
}

TEST(ContinuousBatching, ConcurrentRequestsGiveTheSameTokensAsAlone) {
  const std::vector<std::string> prompts = {"Once upon a time", "Lily wanted to play outside",
                                            "The little dog was sad because",
                                            "There was a big red ball in the garden"};
  Engine alone(model(), {.threads = 2});
  std::vector<std::vector<int32_t>> expected;
  for (const auto& p : prompts) expected.push_back(alone.generate(greedy(p, 48)).first().tokens);

  Engine batched(model(), {.threads = 2, .max_sequences = 4});
  std::vector<std::future<Completion>> results;
  for (const auto& p : prompts) {
    results.push_back(
        std::async(std::launch::async, [&, p] { return batched.generate(greedy(p, 48)); }));
  }
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(results[i].get().first().tokens, expected[i]);
}

TEST(ContinuousBatching, CancelFreesTheCacheAndQueueLimitsHold) {
  Engine engine(model(), {.threads = 2, .max_sequences = 1, .max_queue = 1});
  std::atomic<int> tokens{0};
  std::promise<void> started;
  bool signalled = false;
  RequestCallbacks callbacks;
  callbacks.on_token = [&](const TokenEvent&) {
    if (++tokens == 3 && !signalled) {
      signalled = true;
      started.set_value();
    }
  };
  Request r = greedy("Once upon a time", 400);
  const RequestId id = engine.submit(r, callbacks);
  started.get_future().wait();
  engine.submit(greedy("Hi", 4), {});  // waits in the queue
  EXPECT_THROW(engine.submit(greedy("Hi", 4), {}), QueueFullError);
  engine.cancel(id);
  for (int i = 0; i < 200 && engine.stats().requests_finished < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const EngineStats s = engine.stats();
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.kv_used_tokens, 0);
  EXPECT_LT(tokens.load(), 400);
}

}  // namespace
}  // namespace loom
