#include "server/heap_trimmer.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace loom::server {

void HeapTrimmer::after_request() {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_trim_ms_.load(std::memory_order_relaxed);
  if (now - last < interval_.count()) return;
  // The thread that moves the clock forward trims; the others go on.
  if (!last_trim_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace loom::server
