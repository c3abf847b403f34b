// measure_read_bandwidth(): what the memory system delivers to a plain streaming read, so
// that decode speed can be reported as a fraction of it measured in the same run.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/stream_read.h"
#include "core/thread_pool.h"
#include "loom/loom.h"

namespace loom {

double measure_read_bandwidth(int threads) {
  // 1 GiB: well past any cache, as model weights are.
  constexpr size_t kBytes = size_t{1} << 30;
  constexpr int kPasses = 5;
  AlignedBuffer<int64_t> data(kBytes / sizeof(int64_t));
  ThreadPool pool(std::max(1, threads));
  const auto n = static_cast<int64_t>(data.size());
  pool.run([&](int part, int n_parts) {  // first touch, spread over the threads
    for (int64_t i = n * part / n_parts; i < n * (part + 1) / n_parts; i += 512) data[i] = i;
  });
  std::vector<int64_t> partial(static_cast<size_t>(pool.size()) * 8);
  double best = 0;
  // Passes alternate the plain read and the one that prefetches ahead: the ceiling is
  // whichever the machine serves faster.
  for (int pass = 0; pass < 2 * kPasses; ++pass) {
    const bool prefetch = pass % 2 == 1;
    const auto start = std::chrono::steady_clock::now();
    pool.run([&](int part, int n_parts) {
      partial[static_cast<size_t>(part) * 8] =
          stream_read_sum(data.data(), n * part / n_parts, n * (part + 1) / n_parts, prefetch);
    });
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(kBytes) / s);
  }
  volatile int64_t sink = partial[0];
  (void)sink;
  return best;
}

}  // namespace loom
