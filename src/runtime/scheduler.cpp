#include "runtime/scheduler.h"

#include <algorithm>

#include "core/timing.h"

namespace loom {

Scheduler::Scheduler(EngineCore& core, SchedulerOptions options)
    : core_(core), options_(std::move(options)) {
  snapshot_.free_slots = core_.free_slots();
  loop_thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  loop_thread_.join();
}

Scheduler::Submitted Scheduler::submit(std::unique_ptr<Job> job) {
  Submitted submitted;
  {
    std::lock_guard lock(mutex_);
    const auto waiting = static_cast<int32_t>(queue_.size());
    if (waiting >= options_.max_queue && snapshot_.free_slots < job->slots()) {
      submitted.waiting = waiting;
      return submitted;
    }
    submitted.id = next_id_++;
    job->id_ = submitted.id;
    queue_.push_back(std::move(job));
  }
  wake_.notify_all();
  return submitted;
}

void Scheduler::cancel(int64_t id) {
  {
    std::lock_guard lock(mutex_);
    cancelled_.insert(id);
  }
  wake_.notify_all();
}

SchedulerSnapshot Scheduler::snapshot() const {
  std::lock_guard lock(mutex_);
  SchedulerSnapshot s = snapshot_;
  s.waiting = static_cast<int32_t>(queue_.size());
  return s;
}

void Scheduler::evaluate(std::span<const int32_t> tokens, float* out) {
  std::lock_guard lock(core_mutex_);
  core_.evaluate(tokens, out);
}

int64_t Scheduler::add_sequence(Job& job, std::vector<int32_t> prompt, int64_t max_new_tokens) {
  const int64_t sequence = core_.add_sequence(std::move(prompt), max_new_tokens);
  by_sequence_[sequence] = &job;
  return sequence;
}

int64_t Scheduler::fork_sequence(Job& job, int64_t parent) {
  const int64_t sequence = core_.fork_sequence(parent);
  by_sequence_[sequence] = &job;
  return sequence;
}

void Scheduler::remove_sequence(int64_t sequence) {
  by_sequence_.erase(sequence);
  core_.remove_sequence(sequence);
}

// ---- the loop ----------------------------------------------------------------------------

void Scheduler::loop() {
  for (;;) {
    std::set<int64_t> to_cancel;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] {
        // The slot count as of the last step: evaluate() may hold a slot on another thread.
        return stop_ || !cancelled_.empty() || (!queue_.empty() && snapshot_.free_slots > 0) ||
               core_.has_pending();
      });
      if (stop_) break;
      to_cancel.swap(cancelled_);
      for (int64_t id : to_cancel) {  // still queued: just forget it
        queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                    [&](const auto& job) { return job->id() == id; }),
                     queue_.end());
      }
    }
    step_locked(to_cancel);
    run_deferred();
  }
  std::lock_guard core_lock(core_mutex_);
  while (!active_.empty()) drop(*active_.begin()->second);
}

void Scheduler::step_locked(const std::set<int64_t>& to_cancel) {
  std::lock_guard core_lock(core_mutex_);
  for (int64_t id : to_cancel) {
    auto it = active_.find(id);
    if (it != active_.end()) drop(*it->second);
  }
  {
    std::lock_guard lock(mutex_);
    admit_locked();
  }
  expire_overdue();
  if (core_.has_pending()) {
    const double step_start = now_seconds();
    const std::span<const EngineCore::Output> outputs = core_.step();
    record_step(core_.last_step_positions(), now_seconds() - step_start);
    for (const EngineCore::Output& out : outputs) {
      auto it = by_sequence_.find(out.sequence_id);
      if (it == by_sequence_.end()) continue;
      Job& job = *it->second;
      if (job.done()) continue;
      if (!out.error.empty()) {  // the KV cache is full: the job ends with an error
        job.on_error(out.error);
        continue;
      }
      try {
        job.on_output(out.sequence_id, out.logits, out.n_rows);
      } catch (const std::exception& ex) {
        job.on_error(ex.what());
      }
    }
  }
  if (options_.after_step) options_.after_step();
  for (auto it = active_.begin(); it != active_.end();) {
    if (it->second->done()) {
      drop(*it->second);
      it = active_.begin();
    } else {
      ++it;
    }
  }
  take_snapshot();
}

void Scheduler::admit_locked() {
  // First come, first served: a job that needs more free sequences (or KV blocks) than
  // there are waits at the head of the queue. Slots that running jobs will fork into
  // (their other samples, more beams) are kept for them.
  int32_t reserved = 0;
  for (const auto& [id, job] : active_) {
    if (!job->done()) reserved += job->reserved_slots();
  }
  while (!queue_.empty() &&
         core_.can_admit(queue_.front()->prompt_length(), queue_.front()->slots(), reserved)) {
    std::unique_ptr<Job> owned = std::move(queue_.front());
    queue_.pop_front();
    Job& job = *owned;
    active_[job.id()] = std::move(owned);
    reserved += job.slots() - 1;
    try {
      job.start(*this);
    } catch (const std::exception& ex) {
      job.on_error(ex.what());
    }
  }
}

void Scheduler::expire_overdue() {
  // Checked once per step: a job ends at most one step after its deadline. One still
  // queued when it passes ends as soon as it is admitted, without a token.
  const double now = now_seconds();
  for (auto& [id, job] : active_) {
    if (!job->done()) job->expire(now);
  }
}

void Scheduler::drop(Job& job) {
  job.release(*this);
  active_.erase(job.id());  // destroys the job
  std::lock_guard lock(mutex_);
  ++snapshot_.jobs_finished;
}

void Scheduler::take_snapshot() {
  std::lock_guard lock(mutex_);
  snapshot_.running = core_.n_sequences();
  snapshot_.free_slots = core_.free_slots();
  snapshot_.kv_used_tokens = core_.kv_used_tokens();
  snapshot_.kv_cached_tokens = core_.kv_cached_tokens();
  snapshot_.prefix_cache = core_.prefix_cache_counters();
  snapshot_.counters = core_.counters();
}

void Scheduler::run_deferred() {
  std::vector<std::function<void()>> calls;
  calls.swap(deferred_);
  for (auto& call : calls) call();
}

void Scheduler::record_step(int64_t positions, double seconds) {
  if (positions <= 0) return;
  if (static_cast<int64_t>(step_seconds_.size()) <= positions) {
    step_seconds_.resize(positions + 1);
  }
  double& fastest = step_seconds_[positions];
  // The fastest seen: on a busy machine the noise only ever adds time.
  fastest = fastest == 0 ? seconds : std::min(fastest, seconds);
}

double Scheduler::step_cost(int64_t positions) const {
  return positions < static_cast<int64_t>(step_seconds_.size()) ? step_seconds_[positions] : 0;
}

}  // namespace loom
