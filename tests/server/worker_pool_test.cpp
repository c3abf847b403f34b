// The HTTP server's worker pool: every job runs, never more than the limit at once, the
// worker idle last takes the next job, and idle workers end.
#include "server/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace loom::server {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(WorkerPool, RunsEveryJobWithinTheThreadLimit) {
  WorkerPool pool(4, 10s);
  std::atomic<int> running{0}, most{0}, finished{0};
  for (int i = 0; i < 200; ++i) {
    pool.enqueue([&] {
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(1ms);
      --running;
      ++finished;
    });
  }
  ASSERT_TRUE(eventually([&] { return finished == 200; }));
  EXPECT_LE(most.load(), 4);
  EXPECT_GE(most.load(), 2);  // they did run side by side
  EXPECT_LE(pool.threads(), 4);
}

TEST(WorkerPool, TheWorkerIdleLastTakesTheNextJob) {
  // One job at a time: one thread serves them all, however large the pool (httplib's
  // pool cycles through all of its threads, each keeping its own cache of freed memory).
  WorkerPool pool(32, 10s);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 50; ++i) {
    std::atomic<bool> done{false};
    pool.enqueue([&] {
      std::lock_guard lock(mutex);
      ids.insert(std::this_thread::get_id());
      done = true;
    });
    ASSERT_TRUE(eventually([&] { return done.load(); }));
    std::this_thread::sleep_for(1ms);  // let the worker go back to waiting
  }
  EXPECT_LE(ids.size(), 2u);
}

TEST(WorkerPool, IdleWorkersEnd) {
  WorkerPool pool(8, 50ms);
  std::atomic<int> finished{0};
  for (int i = 0; i < 8; ++i) {
    pool.enqueue([&] {
      std::this_thread::sleep_for(20ms);
      ++finished;
    });
  }
  ASSERT_TRUE(eventually([&] { return finished == 8; }));
  EXPECT_TRUE(eventually([&] { return pool.threads() == 0; }));
  pool.enqueue([&] { ++finished; });  // and a new job gets a new worker
  EXPECT_TRUE(eventually([&] { return finished == 9; }));
}

TEST(WorkerPool, ShutdownRunsTheQueuedJobsFirst) {
  std::atomic<int> finished{0};
  {
    WorkerPool pool(2, 10s);
    for (int i = 0; i < 20; ++i) {
      pool.enqueue([&] {
        std::this_thread::sleep_for(2ms);
        ++finished;
      });
    }
    pool.shutdown();
    EXPECT_EQ(finished.load(), 20);
    EXPECT_EQ(pool.threads(), 0);
  }
}

}  // namespace
}  // namespace loom::server
