#include "server/request_registry.h"

namespace loom::server {

std::shared_ptr<RequestRegistry::Ticket> RequestRegistry::enter() {
  std::lock_guard lock(mutex_);
  if (draining_) return nullptr;
  const uint64_t id = next_id_++;
  requests_.emplace(id, nullptr);
  return std::make_shared<Ticket>(*this, id);
}

void RequestRegistry::begin_drain() {
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
  }
  changed_.notify_all();
}

bool RequestRegistry::draining() const {
  std::lock_guard lock(mutex_);
  return draining_;
}

int64_t RequestRegistry::in_flight() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(requests_.size());
}

void RequestRegistry::wait_for_drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return draining_; });
}

bool RequestRegistry::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.empty(); });
}

void RequestRegistry::cancel_all() {
  // The hooks only queue an event and tell the engine; neither calls back in here.
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  for (auto& [id, cancel] : requests_) {
    if (cancel) cancel();
  }
}

void RequestRegistry::leave(uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    requests_.erase(id);
  }
  changed_.notify_all();
}

void RequestRegistry::set_cancel(uint64_t id, std::function<void()> cancel) {
  std::lock_guard lock(mutex_);
  // Submitted after cancel_all (a race with the drain's end): ends at once too.
  if (cancelled_) cancel();
  requests_[id] = std::move(cancel);
}

}  // namespace loom::server
