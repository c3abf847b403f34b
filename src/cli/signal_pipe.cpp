#include "cli/signal_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "loom/error.h"

namespace loom::cli {
namespace {

int g_write_fd = -1;  // the live SignalPipe's write end (one at a time)

void on_signal_handler(int signo) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signo);
  [[maybe_unused]] ssize_t n = write(g_write_fd, &byte, 1);
  errno = saved;
}

}  // namespace

SignalPipe::SignalPipe(std::function<void(int, int)> on_signal) : on_signal_(std::move(on_signal)) {
  if (pipe2(fds_, O_CLOEXEC) != 0) throw Error("cannot create the signal pipe");
  // A full pipe drops the signal rather than blocking the handler.
  fcntl(fds_[1], F_SETFL, O_NONBLOCK);
  g_write_fd = fds_[1];
  watcher_ = std::thread([this] { watch(); });
  struct sigaction action {};
  action.sa_handler = on_signal_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
}

SignalPipe::~SignalPipe() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  close(fds_[1]);  // the watcher reads end-of-file and returns
  watcher_.join();
  close(fds_[0]);
  g_write_fd = -1;
}

void SignalPipe::watch() {
  int count = 0;
  for (;;) {
    unsigned char byte = 0;
    const ssize_t n = read(fds_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    on_signal_(byte, ++count);
  }
}

}  // namespace loom::cli
