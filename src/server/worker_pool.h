// The HTTP server's worker threads: one per connection being served, up to a limit.
//
// httplib's own ThreadPool keeps every worker alive and wakes them in turn, so under load
// all of them run requests. glibc keeps a cache of freed memory in each thread (tcache,
// up to ~200 KB a thread), and with 96 workers each filling its cache the resident set of
// a loaded server crept up by 20+ MB over minutes while its live heap stayed at ~2 MB
// (measured with heaptrack and the soak test). Here the worker that went idle last takes
// the next connection, and a worker idle for `idle_exit` ends (its cache goes with it):
// the threads alive follow the connections open, not the pool's limit.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace loom::server {

class WorkerPool final : public httplib::TaskQueue {
 public:
  WorkerPool(int max_threads, std::chrono::milliseconds idle_exit);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void enqueue(std::function<void()> job) override;
  // Runs the jobs already queued, then ends every worker.
  void shutdown() override;
  int threads() const;

 private:
  struct Waiting {  // an idle worker
    std::condition_variable wake;
    bool has_job = false;  // enqueue() handed it a job
  };
  using Thread = std::list<std::thread>::iterator;
  void work(Thread self);
  void join_ended(std::unique_lock<std::mutex>& lock);

  const int max_threads_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mutex_;
  std::condition_variable ended_;
  std::deque<std::function<void()>> jobs_;
  std::vector<Waiting*> idle_;  // a stack: the last to go idle is woken first
  std::list<std::thread> threads_;
  std::vector<Thread> ended_threads_;  // returned from work(), to be joined
  bool shutdown_ = false;
};

}  // namespace loom::server
