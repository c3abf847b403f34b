#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace loom {
namespace {

TEST(ThreadPool, EveryThreadRunsOncePerJob) {
  ThreadPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (int job = 0; job < 200; ++job) {
    std::vector<std::atomic<int>> hits(3);
    pool.run([&](int thread, int n_threads) {
      EXPECT_EQ(n_threads, 3);
      hits[thread].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, ParallelForCoversTheRangeExactlyOnce) {
  ThreadPool pool(2);
  for (int64_t n : {0, 1, 2, 3, 7, 1000}) {
    std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) seen[i].fetch_add(1);
    });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1);
  }
}

TEST(ThreadPool, DefaultUsesEveryCore) {
  ThreadPool pool;
  EXPECT_GE(pool.size(), 1);
}

}  // namespace
}  // namespace loom
