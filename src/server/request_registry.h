// The generation requests in flight, for a graceful drain: once draining, new ones are
// refused; the server waits for the running ones to end, or cancels them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace loom::server {

class RequestRegistry {
 public:
  // Held for as long as a request is in flight (a stream: until its response is written).
  class Ticket {
   public:
    Ticket(RequestRegistry& registry, uint64_t id) : registry_(registry), id_(id) {}
    ~Ticket() { registry_.leave(id_); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    // What ends the request at once (cancel_all); set once it is submitted.
    void on_cancel(std::function<void()> cancel) { registry_.set_cancel(id_, std::move(cancel)); }

   private:
    RequestRegistry& registry_;
    uint64_t id_;
  };

  // A ticket for a new request; null once draining (the caller refuses the request).
  std::shared_ptr<Ticket> enter();
  void begin_drain();
  bool draining() const;
  int64_t in_flight() const;
  // Waits until a drain has begun.
  void wait_for_drain();
  // Waits until no request is in flight or the time is up; true when none is left.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Ends every request in flight now (their cancel hooks).
  void cancel_all();

 private:
  void leave(uint64_t id);
  void set_cancel(uint64_t id, std::function<void()> cancel);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool draining_ = false;
  bool cancelled_ = false;  // cancel_all ran: later hooks run as soon as they are set
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::function<void()>> requests_;  // id -> cancel hook (may be empty)
};

}  // namespace loom::server
