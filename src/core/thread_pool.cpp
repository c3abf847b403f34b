#include "core/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace loom {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// About 50-100 microseconds of spinning before a worker sleeps.
constexpr int kSpinIterations = 20000;
// The caller's wait for the other threads of a job before it starts yielding its core.
constexpr int kWaitSpins = 2000;

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::thread::hardware_concurrency());
  n_threads_ = std::clamp(n_threads, 1, 1 << 15);
  workers_.reserve(n_threads_ - 1);
  for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::run_parts() {
  uint64_t claim = claim_.load(std::memory_order_acquire);
  for (;;) {
    const int part = static_cast<int>(claim & 0xffff);
    if (part >= n_threads_) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // `claim` was reloaded
    }
    // The job cannot end before this part is finished, so task_ and context_ are its own.
    task_(context_, part, n_threads_);
    remaining_.fetch_sub(1, std::memory_order_acq_rel);
    claim = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::run_erased(Task task, void* context) {
  if (n_threads_ == 1) {
    task(context, 0, 1);
    return;
  }
  task_ = task;
  context_ = context;
  remaining_.store(n_threads_, std::memory_order_relaxed);
  const uint64_t job = (claim_.load(std::memory_order_relaxed) >> 16) + 1;
  claim_.store(job << 16, std::memory_order_release);  // publishes task_ and context_
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  run_parts();
  // Spin briefly (a worker usually finishes its part within microseconds), then yield the
  // core: the worker we wait for may need this very core to finish.
  for (int i = 0; remaining_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kWaitSpins) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int i = 0; current == seen && i < kSpinIterations; ++i) {
      cpu_relax();
      current = generation_.load(std::memory_order_acquire);
    }
    if (current == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = current;
    if (stop_.load(std::memory_order_acquire)) return;
    run_parts();
  }
}

}  // namespace loom
