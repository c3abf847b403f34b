// SIGTERM and SIGINT delivered to a thread of our own: the handler only writes the signal
// number into a pipe (async-signal-safe); a watcher thread reads it and calls on_signal,
// where the work (a drain, a cancel) may take locks. Handlers are restored on destruction.
#pragma once

#include <csignal>
#include <functional>
#include <thread>

namespace loom::cli {

class SignalPipe {
 public:
  // on_signal(signal number, how many of SIGTERM/SIGINT have come so far, this one included).
  explicit SignalPipe(std::function<void(int, int)> on_signal);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

 private:
  void watch();

  std::function<void(int, int)> on_signal_;
  int fds_[2] = {-1, -1};  // read end, write end
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  std::thread watcher_;
};

}  // namespace loom::cli
