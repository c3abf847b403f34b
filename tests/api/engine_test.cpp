// The public API's behaviour beyond the reference numbers: errors for bad requests,
// reproducible sampling, batch invariance of the forward pass, streaming events.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/engine_helpers.h"
#include "loom/loom.h"

namespace loom {
namespace {

using testing_support::error_of;

const std::string kModel = std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf";

TEST(Engine, PromptPlusMaxTokensBeyondTheContextIsAnError) {
  auto model = Model::load(kModel);
  Engine engine(model, {.threads = 1, .context = 32});
  const std::string message =
      error_of([&] { engine.generate(Request{.prompt = "Once upon a time", .max_tokens = 30}); });
  EXPECT_NE(message.find("context size 32"), std::string::npos) << message;
  // Still usable afterwards: the slot was not leaked.
  Request ok{.prompt = "Once upon a time", .max_tokens = 8};
  ok.sampling.temperature = 0;
  EXPECT_EQ(engine.generate(ok).first().tokens.size(), 8u);
}

TEST(Engine, MissingModelFileNamesThePath) {
  const std::string message = error_of([] { Model::load("/nonexistent/model.gguf"); });
  EXPECT_NE(message.find("/nonexistent/model.gguf"), std::string::npos) << message;
}

// Kilobytes the kernel reports as locked for this process (VmLck).
int64_t locked_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmLck:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// --mlock: every weight the kernels read (the packed copies of Q4_0 matrices, the mapped
// rows of the others) is locked, and the model still computes the same tokens.
TEST(Model, MlockLocksTheWeightsTheKernelsRead) {
  const std::string path = std::string(LOOM_SHARED_DIR) + "/models/stories260K-q4_0.gguf";
  const int64_t before = locked_kib();
  auto locked = Model::load(path, {.mlock = true});
  EXPECT_GE(locked->info().locked_bytes, locked->info().weight_bytes);
#if !defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer turns mlock into a no-op, so only the plain build can see VmLck grow.
  EXPECT_GE(locked_kib() - before, locked->info().locked_bytes / 1024 - 64);  // page rounding
#else
  (void)before;
#endif
  auto plain = Model::load(path);
  EXPECT_EQ(plain->info().locked_bytes, 0);
  Request r{.prompt = "Once upon a time", .max_tokens = 16};
  r.sampling.temperature = 0;
  Engine a(locked, {.threads = 1});
  Engine b(plain, {.threads = 1});
  EXPECT_EQ(a.generate(r).first().tokens, b.generate(r).first().tokens);
}

// Q8_0 weights are repacked on a thread of their own after load.
TEST(Engine, Q8_0WeightsPackedInTheBackgroundGiveTheSameTokens) {
  testing_support::expect_background_packing_keeps_the_tokens(
      std::string(LOOM_SHARED_DIR) + "/models/stories260K-q8_0.gguf", {.threads = 2});
}

TEST(Engine, SameSeedSameText) {
  auto model = Model::load(kModel);
  Engine engine(model, {.threads = 2});
  Request r{.prompt = "Once upon a time", .max_tokens = 48, .ignore_eos = true};
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 42;
  const Completion a = engine.generate(r);
  const Completion b = engine.generate(r);
  EXPECT_EQ(a.first().tokens, b.first().tokens);
  EXPECT_EQ(a.seed, 42u);
  r.sampling.seed = 43;
  EXPECT_NE(engine.generate(r).first().tokens, a.first().tokens);
}

TEST(Engine, StreamedTextEqualsTheCompletionText) {
  auto model = Model::load(kModel);
  Engine engine(model, {.threads = 2});
  Request r{.prompt = "Lily wanted to play outside", .max_tokens = 64};
  r.sampling.temperature = 0;
  std::string streamed;
  int events = 0;
  const Completion c = engine.generate(r, [&](const TokenEvent& e) {
    streamed += e.text;
    ++events;
  });
  EXPECT_EQ(streamed, c.first().text);
  EXPECT_GE(events, static_cast<int>(c.first().tokens.size()));
  // The stream is exactly the text the generated tokens add to the prompt's.
  std::vector<int32_t> all = model->tokenize(r.prompt);
  all.insert(all.end(), c.first().tokens.begin(), c.first().tokens.end());
  EXPECT_EQ(model->detokenize(all), r.prompt + c.first().text);
  EXPECT_EQ(c.timings.prompt_tokens, 11);
  EXPECT_EQ(c.timings.prefill_steps, 1);  // the whole prompt in one forward pass
}

TEST(Engine, PrefillInSmallChunksGivesTheSameTokens) {
  auto model = Model::load(kModel);
  Request r{
      .prompt = "One day, Tom and his mom went to the park.", .max_tokens = 40, .ignore_eos = true};
  r.sampling.temperature = 0;
  Engine whole(model, {.threads = 2});
  Engine chunked(model, {.threads = 1, .batch_tokens = 3});
  const Completion a = whole.generate(r);
  const Completion b = chunked.generate(r);
  EXPECT_EQ(a.first().tokens, b.first().tokens);
  EXPECT_EQ(b.timings.prefill_steps, 6);  // 17 prompt tokens in chunks of 3
}

TEST(Engine, LogitsDoNotDependOnBatchOrThreads) {
  auto model = Model::load(kModel);
  const std::vector<int32_t> tokens = model->tokenize("The sun was hot and the bird");
  Engine one(model, {.threads = 1, .batch_tokens = 1});
  Engine two(model, {.threads = 2, .batch_tokens = 512});
  EXPECT_EQ(one.evaluate(tokens), two.evaluate(tokens));
}

TEST(Engine, BadOptionsAreErrors) {
  auto model = Model::load(kModel);
  EXPECT_NE(error_of([&] { Engine e(model, {.kv_type = "q3"}); }).find("KV cache type"),
            std::string::npos);
  Engine engine(model, {.threads = 1});
  Request r{.prompt = "Hi", .max_tokens = 4};
  r.sampling.top_p = 0;
  EXPECT_NE(error_of([&] { engine.generate(r); }).find("top_p"), std::string::npos);
}

TEST(Engine, TimeoutEndsEveryChoiceWithLengthAndSaysWhy) {
  auto model = Model::load(kModel);
  Engine engine(model, {.threads = 2, .context = 4096, .max_sequences = 2});
  Request r{.prompt = "Once upon a time", .max_tokens = 4000, .ignore_eos = true, .n = 2};
  r.timeout = 0.05;
  int finished_events = 0;
  const Completion c = engine.generate(r, [&](const TokenEvent& e) {
    if (e.finished) {
      ++finished_events;
      EXPECT_TRUE(e.timed_out);
      EXPECT_EQ(e.finish_reason, FinishReason::kLength);
    }
  });
  EXPECT_EQ(finished_events, 2);
  for (const Choice& choice : c.choices) {
    EXPECT_TRUE(choice.timed_out);
    EXPECT_EQ(choice.finish_reason, FinishReason::kLength);
    EXPECT_LT(choice.tokens.size(), 4000u);
  }
  // Beam search stops too, its running beams becoming the answers.
  Request beams{
      .prompt = "Once upon a time", .max_tokens = 4000, .ignore_eos = true, .num_beams = 2};
  beams.timeout = 0.05;
  const Completion b = engine.generate(beams);
  ASSERT_FALSE(b.choices.empty());
  EXPECT_TRUE(b.first().timed_out);
  EXPECT_LT(b.first().tokens.size(), 4000u);
  // A request that ends in time is not marked.
  Request quick{.prompt = "Once upon a time", .max_tokens = 4, .ignore_eos = true};
  quick.timeout = 30;
  EXPECT_FALSE(engine.generate(quick).first().timed_out);
}

}  // namespace
}  // namespace loom
