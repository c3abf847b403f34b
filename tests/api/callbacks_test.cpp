// User callbacks run with no engine lock held: a callback may call back into the engine
// (evaluate, submit, cancel, stats) without deadlocking, and events still arrive in order,
// with on_done last.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom {
namespace {

const std::string kModel = std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf";

TEST(Callbacks, MayCallIntoTheEngine) {
  auto model = Model::load(kModel);
  Engine engine(model, {.threads = 1, .context = 128, .max_sequences = 2});
  Request request{.prompt = "Once upon a time", .max_tokens = 6};
  request.sampling.temperature = 0;
  const std::vector<int32_t> tokens = model->tokenize("Lily saw a dog");

  std::promise<std::vector<std::string>> done;
  std::vector<std::string> log;
  RequestCallbacks callbacks;
  callbacks.on_token = [&](const TokenEvent& event) {
    // evaluate() takes the lock the step loop holds while it steps.
    const std::vector<float> logits = engine.evaluate(tokens);
    log.push_back(event.finished ? "finished" : "token");
    EXPECT_EQ(logits.size(), tokens.size() * static_cast<size_t>(model->n_vocab()));
    EXPECT_GE(engine.stats().max_sequences, 1);
  };
  callbacks.on_done = [&](Completion completion) {
    // A follow-up request submitted from the callback runs to its end.
    Request next{.prompt = "The end", .max_tokens = 2};
    RequestCallbacks chained;
    chained.on_done = [&, completion](Completion second) {
      log.push_back("done " + std::to_string(completion.first().tokens.size()) + " then " +
                    std::to_string(second.first().tokens.size()));
      done.set_value(log);
    };
    engine.submit(next, chained);
  };
  engine.submit(request, callbacks);
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "a callback that calls into the engine deadlocked it";
  const std::vector<std::string> got = result.get();
  ASSERT_EQ(got.size(), 8u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(got[i], "token");
  EXPECT_EQ(got[6], "finished");
  EXPECT_EQ(got[7], "done 6 then 2");
}

}  // namespace
}  // namespace loom
