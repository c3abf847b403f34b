// The scheduler: a thread that runs the step loop over every job in flight (continuous
// batching) on one EngineCore, and a bounded FIFO queue of jobs waiting for free
// sequences. A job is whatever owns sequences and turns their logits into tokens (the
// api's sampling and beam runs); the scheduler never samples and never sees text.
//
// Threads: submit(), cancel(), snapshot() and evaluate() may be called from any thread.
// Everything else, and every Job call, runs on the loop thread with the core mutex held.
// The core is touched only under that mutex; other threads read its state through the
// snapshot taken after each step. Calls queued with defer() (user callbacks) run after
// each iteration with no lock held, so they may call back into the scheduler.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "runtime/engine_core.h"

namespace loom {

class Scheduler;

// One unit of work the scheduler admits and steps: a request's sequences. Called on the
// loop thread with the core mutex held.
class Job {
 public:
  virtual ~Job() = default;

  int64_t id() const { return id_; }  // given by Scheduler::submit

  // Sequences the job holds at its peak, and how many of those it has not taken yet
  // (forks still to come): admission keeps them free for it.
  virtual int32_t slots() const = 0;
  virtual int32_t reserved_slots() const = 0;
  virtual int64_t prompt_length() const = 0;
  // Admitted: add the first sequence(s) through scheduler.add_sequence.
  virtual void start(Scheduler& scheduler) = 0;
  // A step computed `sequence`: n_rows logits rows of n_vocab (valid until the next step).
  virtual void on_output(int64_t sequence, const float* logits, int32_t n_rows) = 0;
  // The job failed (its sequence could not advance, or one of its calls threw): it ends
  // with `message`, and done() is true afterwards.
  virtual void on_error(std::string message) = 0;
  // Before each step: end the job if its deadline passed by `now` (seconds, now_seconds()).
  virtual void expire(double now) = 0;
  virtual bool done() const = 0;
  // Removes the sequences it still holds (through scheduler.remove_sequence): the job is
  // finished, cancelled or the scheduler is stopping.
  virtual void release(Scheduler& scheduler) = 0;

 private:
  friend class Scheduler;
  int64_t id_ = 0;
};

// The core's state as of the last step, for other threads.
struct SchedulerSnapshot {
  int32_t running = 0;     // sequences
  int32_t free_slots = 0;  // sequence slots
  int32_t waiting = 0;     // queued jobs
  int64_t kv_used_tokens = 0;
  int64_t kv_cached_tokens = 0;
  StepCounters counters;
  PrefixCacheCounters prefix_cache;
  int64_t jobs_finished = 0;
};

struct SchedulerOptions {
  int32_t max_queue = 0;  // jobs that may wait while the free slots are too few
  // Runs after each step's outputs were handed to their jobs (the draft model's pass).
  std::function<void()> after_step;
};

class Scheduler {
 public:
  // Starts the loop thread. `core` must outlive the scheduler.
  Scheduler(EngineCore& core, SchedulerOptions options);
  // Stops the loop: jobs still running or queued are released without another call.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  struct Submitted {
    int64_t id = 0;       // 0: the queue is full and the job was dropped
    int32_t waiting = 0;  // jobs queued when it was refused
  };
  // Queues a job for admission (first come, first served). Refused when max_queue jobs
  // wait already and the free slots are fewer than the job needs. Thread-safe.
  Submitted submit(std::unique_ptr<Job> job);
  // Ends a job at once without a call to it (a queued one is just forgotten). Thread-safe.
  void cancel(int64_t id);
  SchedulerSnapshot snapshot() const;  // thread-safe
  // EngineCore::evaluate under the core mutex. Thread-safe.
  void evaluate(std::span<const int32_t> tokens, float* out);

  // ---- for jobs, on the loop thread ----
  EngineCore& core() { return core_; }
  // Sequences owned by `job`: the step's outputs for them go to it.
  int64_t add_sequence(Job& job, std::vector<int32_t> prompt, int64_t max_new_tokens);
  int64_t fork_sequence(Job& job, int64_t parent);
  void remove_sequence(int64_t sequence);
  // Runs `call` after this iteration, when no lock is held.
  void defer(std::function<void()> call) { deferred_.push_back(std::move(call)); }
  // Seconds the fastest step of `positions` positions took; 0 = not seen yet. What a
  // draft of k tokens costs against decoding one token.
  double step_cost(int64_t positions) const;

 private:
  void loop();
  // One iteration's work under core_mutex_: cancellations, admissions, a step, its outputs.
  void step_locked(const std::set<int64_t>& to_cancel);
  void admit_locked();  // with mutex_ held too
  void expire_overdue();
  void drop(Job& job);
  void record_step(int64_t positions, double seconds);
  void take_snapshot();
  void run_deferred();

  EngineCore& core_;
  SchedulerOptions options_;

  mutable std::mutex mutex_;  // guards queue_, cancelled_, stop_, next_id_, snapshot_
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::set<int64_t> cancelled_;
  bool stop_ = false;
  int64_t next_id_ = 1;
  SchedulerSnapshot snapshot_;  // waiting is filled in by snapshot()

  std::mutex core_mutex_;                           // held while the core steps or evaluates
  std::map<int64_t, std::unique_ptr<Job>> active_;  // loop thread only
  std::map<int64_t, Job*> by_sequence_;             // loop thread only
  std::vector<std::function<void()>> deferred_;     // loop thread only
  std::vector<double> step_seconds_;                // by positions; loop thread only
  std::thread loop_thread_;
};

}  // namespace loom
