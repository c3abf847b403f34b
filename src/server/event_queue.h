// The hand-off between the engine's thread (callbacks) and an HTTP worker thread: the
// engine pushes token events, the final completion or an error; the worker waits for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom::server {

struct EngineItem {
  enum class Kind { kToken, kDone, kError, kCancelled };  // kCancelled: the server shuts down
  Kind kind = Kind::kToken;
  TokenEvent event;       // kToken
  Completion completion;  // kDone
  std::string error;      // kError
};

class EventQueue {
 public:
  void push(EngineItem item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }

  // Moves everything queued into `out`, waiting up to `timeout` for the first item.
  // Returns false when nothing arrived in time.
  bool pop_all(std::vector<EngineItem>& out, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return false;
    while (!items_.empty()) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<EngineItem> items_;
};

}  // namespace loom::server
