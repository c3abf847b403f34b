// Wall-clock timing for the summaries users see (time to first token, tokens/s).
#pragma once

#include <chrono>

namespace loom {

inline double now_seconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

}  // namespace loom
