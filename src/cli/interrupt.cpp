#include "cli/interrupt.h"

#include <pthread.h>

#include <cerrno>
#include <csignal>

namespace loom::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int) {
  g_interrupted = 1;
}

sigset_t interrupt_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
}

bool interrupt_pending() {
  return g_interrupted != 0;
}

bool take_interrupt() {
  const bool was = g_interrupted != 0;
  g_interrupted = 0;
  return was;
}

void block_interrupt() {
  const sigset_t set = interrupt_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void unblock_interrupt() {
  const sigset_t set = interrupt_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

int wait_readable_or_interrupt(int fd) {
  // SIGINT is blocked between the look at the flag and the wait, and ppoll() unblocks it
  // atomically: a Ctrl-C in between cannot be missed. ppoll() is never restarted.
  const sigset_t set = interrupt_set();
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &set, &previous);
  sigdelset(&previous, SIGINT);
  int result = 0;
  for (;;) {
    if (interrupt_pending()) break;
    pollfd p{fd, POLLIN, 0};
    if (ppoll(&p, 1, nullptr, &previous) >= 0) {
      result = 1;
      break;
    }
    if (errno != EINTR) {
      result = -1;
      break;
    }
  }
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  return result;
}

}  // namespace loom::cli
