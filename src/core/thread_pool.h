// A persistent pool of worker threads for the kernels. The calling thread takes part, so
// a pool of n threads starts n-1 workers. A job is n parts (part i is fn(i, n)); whichever
// thread is free claims the next part, so when a worker is not running (a busy machine,
// more threads than cores) the caller does its part instead of waiting for it. Workers
// spin briefly between jobs (decode steps come microseconds apart) and then sleep, so an
// idle engine costs no CPU. Dispatch allocates nothing and takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace loom {

class ThreadPool {
 public:
  // n_threads <= 0 means one thread per core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(part, n_parts) once for every part in [0, size()) and returns when all are
  // done. Parts may run on any of the pool's threads, concurrently or one after another;
  // per-part scratch indexed by `part` is never shared by two running calls.
  template <typename Fn>
  void run(Fn&& fn) {
    run_erased(&invoke<Fn>, &fn);
  }

  // Splits [0, n) into one contiguous range per thread and calls fn(begin, end) for each
  // non-empty range. Which thread computes an index never changes what is computed.
  // A single index runs on the calling thread: waking the pool would only cost.
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn) {
    if (n <= 1) {
      if (n == 1) fn(int64_t{0}, int64_t{1});
      return;
    }
    run([&](int thread, int n_threads) {
      const int64_t begin = n * thread / n_threads;
      const int64_t end = n * (thread + 1) / n_threads;
      if (begin < end) fn(begin, end);
    });
  }

 private:
  using Task = void (*)(void* context, int thread, int n_threads);

  template <typename Fn>
  static void invoke(void* context, int thread, int n_threads) {
    (*static_cast<Fn*>(context))(thread, n_threads);
  }

  void run_erased(Task task, void* context);
  void worker_loop();
  // Claims and runs parts of the current job until none is left.
  void run_parts();

  int n_threads_;
  std::vector<std::thread> workers_;
  Task task_ = nullptr;
  void* context_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped once per job; workers wait on it
  // (job number << 16) | next unclaimed part: a claim is a compare-and-swap, so a late
  // worker can never claim a part of a job that has already ended.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> remaining_{0};  // parts of the current job not finished
  std::atomic<bool> stop_{false};
};

}  // namespace loom
