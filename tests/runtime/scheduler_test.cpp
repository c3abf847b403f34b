// The runtime's scheduler on the real stories260K model, driven by a greedy job that
// knows nothing of text: jobs are admitted first come first served, stepped until done and
// released; the queue refuses work when full; cancelling forgets a job; deferred calls run
// with no lock held (they may call back in); the snapshot follows the core.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/stories_transformer.h"
#include "gguf/gguf_file.h"
#include "model/transformer.h"

namespace loom {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const Transformer> model() {
  return testing_support::stories_transformer();
}

// What a test sees of its jobs, written on the loop thread by deferred calls.
struct Results {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<int32_t>> finished;  // each finished job's tokens, in order
  std::vector<std::string> errors;

  void wait_for(size_t n) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return finished.size() + errors.size() >= n; });
  }
};

// Greedy decoding of max_tokens tokens in one sequence.
class GreedyJob : public Job {
 public:
  GreedyJob(std::vector<int32_t> prompt, int64_t max_tokens, Results& results)
      : prompt_(std::move(prompt)), max_tokens_(max_tokens), results_(results) {}

  int32_t slots() const override { return 1; }
  int32_t reserved_slots() const override { return 0; }
  int64_t prompt_length() const override { return static_cast<int64_t>(prompt_.size()); }
  void start(Scheduler& scheduler) override {
    scheduler_ = &scheduler;
    sequence_ = scheduler.add_sequence(*this, prompt_, max_tokens_);
  }
  void on_output(int64_t sequence, const float* logits, int32_t n_rows) override {
    const int32_t n_vocab = scheduler_->core().config().n_vocab;
    const auto token = static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
    tokens_.push_back(token);
    if (static_cast<int64_t>(tokens_.size()) < max_tokens_) {
      scheduler_->core().append_token(sequence, token);
      return;
    }
    done_ = true;
    scheduler_->defer([&results = results_, tokens = tokens_] {
      {
        std::lock_guard lock(results.mutex);
        results.finished.push_back(tokens);
      }
      results.changed.notify_all();
    });
  }
  void on_error(std::string message) override {
    done_ = true;
    scheduler_->defer([&results = results_, message] {
      {
        std::lock_guard lock(results.mutex);
        results.errors.push_back(message);
      }
      results.changed.notify_all();
    });
  }
  void expire(double now) override {}
  bool done() const override { return done_; }
  void release(Scheduler& scheduler) override {
    if (sequence_ >= 0) scheduler.remove_sequence(sequence_);
  }

 private:
  std::vector<int32_t> prompt_;
  int64_t max_tokens_;
  Results& results_;
  Scheduler* scheduler_ = nullptr;
  int64_t sequence_ = -1;
  std::vector<int32_t> tokens_;
  bool done_ = false;
};

// Computes its prompt and then holds its sequence (and slot) until cancelled.
class HoldingJob : public Job {
 public:
  explicit HoldingJob(std::vector<int32_t> prompt) : prompt_(std::move(prompt)) {}

  int32_t slots() const override { return 1; }
  int32_t reserved_slots() const override { return 0; }
  int64_t prompt_length() const override { return static_cast<int64_t>(prompt_.size()); }
  void start(Scheduler& scheduler) override {
    sequence_ = scheduler.add_sequence(*this, prompt_, 4);
  }
  void on_output(int64_t sequence, const float* logits, int32_t n_rows) override {}
  void on_error(std::string message) override {}
  void expire(double now) override {}
  bool done() const override { return false; }
  void release(Scheduler& scheduler) override { scheduler.remove_sequence(sequence_); }

 private:
  std::vector<int32_t> prompt_;
  int64_t sequence_ = -1;
};

std::vector<int32_t> prompt(int n) {
  std::vector<int32_t> tokens{1};
  for (int i = 1; i < n; ++i) tokens.push_back(static_cast<int32_t>(30 + 7 * i % 400));
  return tokens;
}

TEST(Scheduler, RunsJobsToTheEndAndReleasesThem) {
  EngineCore core(model(), {.threads = 1, .context = 128, .max_sequences = 2});
  Results results;
  {
    Scheduler scheduler(core, {.max_queue = 8});
    for (int i = 0; i < 5; ++i) {
      EXPECT_GT(scheduler.submit(std::make_unique<GreedyJob>(prompt(8 + i), 6, results)).id, 0);
    }
    results.wait_for(5);
    const SchedulerSnapshot s = scheduler.snapshot();
    EXPECT_EQ(s.jobs_finished, 5);
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.free_slots, 2);
    EXPECT_EQ(s.waiting, 0);
    EXPECT_GT(s.counters.steps, 0);
  }
  ASSERT_EQ(results.finished.size(), 5u);
  for (const auto& tokens : results.finished) EXPECT_EQ(tokens.size(), 6u);
  EXPECT_TRUE(results.errors.empty());
  EXPECT_EQ(core.n_sequences(), 0);
}

TEST(Scheduler, SameTokensWhateverElseRuns) {
  EngineCore core(model(), {.threads = 1, .context = 128, .max_sequences = 3});
  Results alone, together;
  {
    Scheduler scheduler(core, {.max_queue = 8});
    scheduler.submit(std::make_unique<GreedyJob>(prompt(12), 10, alone));
    alone.wait_for(1);
    for (int i = 0; i < 3; ++i) {
      scheduler.submit(std::make_unique<GreedyJob>(prompt(12), 10, together));
    }
    together.wait_for(3);
  }
  for (const auto& tokens : together.finished) EXPECT_EQ(tokens, alone.finished.at(0));
}

TEST(Scheduler, RefusesWorkWhenTheQueueIsFull) {
  EngineCore core(model(), {.threads = 1, .context = 128, .max_sequences = 1});
  Results results;
  Scheduler scheduler(core, {.max_queue = 0});
  const int64_t holder = scheduler.submit(std::make_unique<HoldingJob>(prompt(8))).id;
  ASSERT_GT(holder, 0);  // a slot was free
  while (scheduler.snapshot().free_slots > 0) std::this_thread::sleep_for(1ms);
  const Scheduler::Submitted refused =
      scheduler.submit(std::make_unique<GreedyJob>(prompt(8), 2, results));
  EXPECT_EQ(refused.id, 0);
  EXPECT_EQ(refused.waiting, 0);
  scheduler.cancel(holder);
}

TEST(Scheduler, CancelForgetsQueuedAndRunningJobs) {
  EngineCore core(model(), {.threads = 1, .context = 128, .max_sequences = 1});
  Results results;
  Scheduler scheduler(core, {.max_queue = 4});
  const int64_t running = scheduler.submit(std::make_unique<HoldingJob>(prompt(8))).id;
  const int64_t queued = scheduler.submit(std::make_unique<GreedyJob>(prompt(8), 5, results)).id;
  scheduler.cancel(queued);
  scheduler.cancel(running);
  scheduler.submit(std::make_unique<GreedyJob>(prompt(9), 3, results));
  results.wait_for(1);
  std::this_thread::sleep_for(20ms);  // room for a wrongly kept job to finish too
  std::lock_guard lock(results.mutex);
  ASSERT_EQ(results.finished.size(), 1u);  // only the last job ran to its end
  EXPECT_EQ(results.finished[0].size(), 3u);
}

TEST(Scheduler, DeferredCallsMayCallBackIn) {
  EngineCore core(model(), {.threads = 1, .context = 128, .max_sequences = 2});
  Results results;
  Scheduler scheduler(core, {.max_queue = 4});
  // A job whose end submits another: with a lock held this would deadlock.
  class Chain : public GreedyJob {
   public:
    Chain(Scheduler& s, Results& r) : GreedyJob(prompt(8), 2, r), s_(s), r_(r) {}
    void on_output(int64_t sequence, const float* logits, int32_t n_rows) override {
      GreedyJob::on_output(sequence, logits, n_rows);
      if (done()) {
        s_.defer([&s = s_, &r = r_] { s.submit(std::make_unique<GreedyJob>(prompt(9), 2, r)); });
      }
    }

   private:
    Scheduler& s_;
    Results& r_;
  };
  scheduler.submit(std::make_unique<Chain>(scheduler, results));
  results.wait_for(2);
  EXPECT_EQ(results.finished.size(), 2u);
}

}  // namespace
}  // namespace loom
