// Ctrl-C (SIGINT) as a flag that the chat's main thread polls: the handler only records
// the signal; whoever sees the flag does the work (stop a reply, drop a typed line).
#pragma once

#include <poll.h>

namespace loom::cli {

// Installs the handler (SA_RESTART, so stdio is not disturbed).
void install_interrupt_handler();
// True once Ctrl-C was pressed since the last take_interrupt().
bool interrupt_pending();
// Reads and clears the flag.
bool take_interrupt();

// Threads started by the calling thread while SIGINT is blocked keep it blocked, so the
// signal always lands on the main thread, whose wait it interrupts. Call around the
// creation of the engine (its threads).
void block_interrupt();
void unblock_interrupt();

// Waits for `fd` to be readable: 1 when it is, 0 when Ctrl-C came (before or during the
// wait; no window in between), -1 on an error.
int wait_readable_or_interrupt(int fd);

}  // namespace loom::cli
