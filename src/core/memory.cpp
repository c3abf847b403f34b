#include "core/memory.h"

#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace loom {

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

void release_pages(const void* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + bytes) / page * page;
  if (last <= first) return;
  // Only whole pages inside the range: a neighbouring tensor may share the edge pages.
  // Failure (e.g. locked pages) only means the pages stay resident.
  (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void lock_pages(const void* data, size_t bytes) {
  if (bytes == 0 || mlock(data, bytes) == 0) return;
  const int error = errno;
  rlimit limit{};
  getrlimit(RLIMIT_MEMLOCK, &limit);
  const std::string allowed = limit.rlim_cur == RLIM_INFINITY
                                  ? std::string("unlimited")
                                  : fmt::format("{} KiB", limit.rlim_cur / 1024);
  fail(
      "--mlock: cannot lock {:.1f} MiB of weights in memory ({}); the limit is {}: raise it "
      "with `ulimit -l unlimited` (or LimitMEMLOCK= in a systemd unit), or run without --mlock",
      static_cast<double>(bytes) / (1 << 20), std::strerror(error), allowed);
}

}  // namespace loom
