// A persistent pool of worker threads for the kernels. The calling thread takes part as
// thread 0, so a pool of n threads starts n-1 workers. Workers spin briefly between jobs
// (decode steps come microseconds apart) and then sleep, so an idle engine costs no CPU.
// Dispatch allocates nothing and takes no lock.
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

  // Calls fn(thread_index, n_threads) once on every thread and returns when all are done.
  template <typename Fn>
  void run(Fn&& fn) {
    run_erased(&invoke<Fn>, &fn);
  }

  // Splits [0, n) into one contiguous range per thread and calls fn(begin, end) for each
  // non-empty range. Which thread computes an index never changes what is computed.
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn) {
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
  void worker_loop(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  Task task_ = nullptr;
  void* context_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped once per job; workers wait on it
  std::atomic<int> pending_{0};          // workers still running the current job
  std::atomic<bool> stop_{false};
};

}  // namespace loom
