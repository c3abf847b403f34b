#include "server/worker_pool.h"

#include <algorithm>

namespace loom::server {

WorkerPool::WorkerPool(int max_threads, std::chrono::milliseconds idle_exit)
    : max_threads_(std::max(1, max_threads)), idle_exit_(idle_exit) {}

WorkerPool::~WorkerPool() {
  shutdown();
}

int WorkerPool::threads() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(threads_.size() - ended_threads_.size());
}

void WorkerPool::enqueue(std::function<void()> job) {
  std::unique_lock lock(mutex_);
  join_ended(lock);
  jobs_.push_back(std::move(job));
  if (!idle_.empty()) {
    Waiting* worker = idle_.back();
    idle_.pop_back();
    worker->has_job = true;
    worker->wake.notify_one();
  } else if (static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_front();
    const Thread self = threads_.begin();
    *self = std::thread([this, self] { work(self); });
  }
  // Otherwise every worker is busy and the job waits for the first to finish.
}

void WorkerPool::shutdown() {
  std::unique_lock lock(mutex_);
  shutdown_ = true;
  for (Waiting* worker : idle_) worker->wake.notify_one();
  ended_.wait(lock, [&] { return ended_threads_.size() == threads_.size(); });
  join_ended(lock);
}

void WorkerPool::work(Thread self) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!jobs_.empty()) {
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // its captures (the connection) go before the lock is taken
      lock.lock();
      continue;
    }
    if (shutdown_) break;
    Waiting waiting;
    idle_.push_back(&waiting);
    waiting.wake.wait_for(lock, idle_exit_, [&] { return waiting.has_job || shutdown_; });
    if (!waiting.has_job) {  // still on the idle stack: timed out, or shutting down
      idle_.erase(std::find(idle_.begin(), idle_.end(), &waiting));
      if (jobs_.empty()) break;
    }
  }
  ended_threads_.push_back(self);
  ended_.notify_all();
}

void WorkerPool::join_ended(std::unique_lock<std::mutex>& lock) {
  // A worker in ended_threads_ has left its loop and only returns; joining it while holding
  // the lock would wait for it to release the lock, so take the list and release first.
  std::vector<std::thread> done;
  for (Thread t : ended_threads_) {
    done.push_back(std::move(*t));
    threads_.erase(t);
  }
  ended_threads_.clear();
  lock.unlock();
  for (std::thread& t : done) t.join();
  lock.lock();
}

}  // namespace loom::server
