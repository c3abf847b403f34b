// The streaming read that bandwidth measurements time: the sum of p[begin, end), read in
// order. With `prefetch`, each 512-byte step also asks for the lines 4 KiB ahead, as the
// decode kernels do: on some machines the hardware prefetcher alone leaves bandwidth
// unused (2 Sapphire Rapids-class Xeon cores: 20 GB/s plain, 30 GB/s with the prefetch),
// so a ceiling measured without it would be no ceiling.
#pragma once

#include <cstdint>

namespace loom {

inline int64_t stream_read_sum(const int64_t* p, int64_t begin, int64_t end, bool prefetch) {
  constexpr int64_t kStep = 64;         // int64s a step: 512 bytes, 8 cache lines
  constexpr int64_t kAhead = 4096 / 8;  // int64s between a line read and its prefetch
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = begin;
  for (; i + kStep <= end; i += kStep) {
    if (prefetch) {
      for (int64_t line = 0; line < kStep; line += 8) __builtin_prefetch(p + i + kAhead + line);
    }
    for (int64_t j = i; j < i + kStep; j += 4) {
      s0 += p[j];
      s1 += p[j + 1];
      s2 += p[j + 2];
      s3 += p[j + 3];
    }
  }
  for (; i < end; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

}  // namespace loom
