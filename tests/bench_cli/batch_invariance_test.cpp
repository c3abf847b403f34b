// Batch invariance end to end (issue 6): a request's log-probabilities, which are the
// log-softmax of its logits, are the same bits alone on 1 thread, alone on 2 threads, and
// computed inside a continuous batch of 8 different requests.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom {
namespace {

const std::string kShared = LOOM_SHARED_DIR;

Request make_request(const std::string& prompt) {
  Request r;
  r.prompt = prompt;
  r.max_tokens = 12;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  r.sampling.seed = 1;
  r.logprobs = 5;
  return r;
}

// Every chosen-token logprob and every top alternative, bit for bit.
void expect_identical(const Completion& a, const Completion& b, const std::string& what) {
  ASSERT_EQ(a.first().tokens, b.first().tokens) << what;
  const auto& la = a.first().logprobs;
  const auto& lb = b.first().logprobs;
  ASSERT_EQ(la.size(), lb.size()) << what;
  for (size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(std::memcmp(&la[i].logprob, &lb[i].logprob, sizeof(float)), 0)
        << what << ": token " << i << " " << la[i].logprob << " vs " << lb[i].logprob;
    ASSERT_EQ(la[i].top.size(), lb[i].top.size()) << what;
    for (size_t k = 0; k < la[i].top.size(); ++k) {
      EXPECT_EQ(la[i].top[k].first, lb[i].top[k].first) << what;
      EXPECT_EQ(std::memcmp(&la[i].top[k].second, &lb[i].top[k].second, sizeof(float)), 0)
          << what << ": token " << i << " alternative " << k;
    }
  }
}

class BatchInvariance : public ::testing::TestWithParam<const char*> {};

TEST_P(BatchInvariance, SameLogitsAloneInABatchOf8AndOn1Or2Threads) {
  const auto model = Model::load(kShared + "/models/" + GetParam());
  const Request target = make_request("Once upon a time, there was a little");

  Engine one(model, {.threads = 1, .context = 128});
  const Completion alone_1 = one.generate(target);
  ASSERT_EQ(alone_1.first().logprobs.size(), 12u);
  Engine two(model, {.threads = 2, .context = 128});
  expect_identical(alone_1, two.generate(target), "alone, 2 threads vs 1");

  Engine batched(model, {.threads = 2, .context = 128, .max_sequences = 8});
  const std::vector<std::string> others = {"The cat sat on the mat",
                                           "Lily liked to play",
                                           "One day, a big dog",
                                           "Tom had a red ball and",
                                           "The sun was hot.",
                                           "She saw a bird in the tree",
                                           "Mom said"};
  std::mutex mutex;
  std::condition_variable done_cv;
  int finished = 0;
  std::string error;
  Completion in_batch;
  auto submit = [&](const Request& r, bool is_target) {
    RequestCallbacks cb;
    cb.on_done = [&, is_target](Completion c) {
      std::lock_guard<std::mutex> lock(mutex);
      if (is_target) in_batch = std::move(c);
      ++finished;
      done_cv.notify_all();
    };
    cb.on_error = [&](const std::string& e) {
      std::lock_guard<std::mutex> lock(mutex);
      error = e;
      ++finished;
      done_cv.notify_all();
    };
    batched.submit(r, cb);
  };
  // The target joins in the middle, so its positions share steps with prefills and decodes.
  for (size_t i = 0; i < 4; ++i) submit(make_request(others[i]), false);
  submit(target, true);
  for (size_t i = 4; i < others.size(); ++i) submit(make_request(others[i]), false);
  {
    std::unique_lock<std::mutex> lock(mutex);
    done_cv.wait(lock, [&] { return finished == 8; });
  }
  ASSERT_TRUE(error.empty()) << error;
  expect_identical(alone_1, in_batch, "in a batch of 8 vs alone");
}

INSTANTIATE_TEST_SUITE_P(Models, BatchInvariance,
                         ::testing::Values("stories260K.gguf", "stories260K-q8_0.gguf",
                                           "stories260K-q4_0.gguf"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.' || c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace loom
