#include "cli/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace loom::cli {

Progress::Progress(std::string what) : what_(std::move(what)), terminal_(isatty(STDERR_FILENO)) {}

void Progress::update(uint64_t done, uint64_t total) {
  const int percent = total > 0 ? static_cast<int>(done * 100 / total) : 100;
  const double mib = static_cast<double>(done) / (1 << 20);
  if (terminal_) {
    if (percent == last_percent_) return;
    last_percent_ = percent;
    constexpr int kWidth = 40;
    const auto filled = static_cast<size_t>(percent * kWidth / 100);
    fmt::print(stderr, "\rloom: {} [{}{}] {:3}% {:.0f} MiB", what_, std::string(filled, '#'),
               std::string(kWidth - filled, ' '), percent, mib);
    std::fflush(stderr);
    return;
  }
  if (percent < next_quarter_) return;
  fmt::print(stderr, "loom: {}: {}% ({:.0f} MiB)\n", what_, percent, mib);
  next_quarter_ = (percent / 25 + 1) * 25;
}

void Progress::finish() {
  if (terminal_ && last_percent_ >= 0) fmt::print(stderr, "\n");
}

}  // namespace loom::cli
