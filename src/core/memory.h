// Process memory figures reported to users (peak resident set size).
#pragma once

#include <cstddef>
#include <cstdint>

namespace loom {

// Peak resident set size of this process so far, in bytes.
int64_t peak_rss_bytes();

// Tells the kernel that the whole pages inside [data, data + bytes) of a read-only file
// mapping are not needed now: they leave the resident set and are read again from the
// file if touched. Best effort (locked pages stay).
void release_pages(const void* data, size_t bytes);

// Locks the pages of [data, data + bytes) in memory (mlock), so they are never swapped out
// or dropped; loom::Error naming the limit to raise when the system refuses.
void lock_pages(const void* data, size_t bytes);

}  // namespace loom
