// Process memory figures reported to users (peak resident set size).
#pragma once

#include <cstdint>

namespace loom {

// Peak resident set size of this process so far, in bytes.
int64_t peak_rss_bytes();

}  // namespace loom
