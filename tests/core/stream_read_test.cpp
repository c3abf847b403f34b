#include "core/stream_read.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace loom {
namespace {

// The bandwidth loop must read every element of its range exactly once, with or without
// the prefetch, whatever the range's length against its 64-element steps.
TEST(StreamRead, SumsEveryElementOfTheRangeOnce) {
  std::vector<int64_t> data(1000);
  std::iota(data.begin(), data.end(), int64_t{1});
  for (bool prefetch : {false, true}) {
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 1000},
                                     {0, 64},
                                     {3, 70},
                                     {500, 500},
                                     {999, 1000},
                                     {10, 650}}) {
      const int64_t expected =
          std::accumulate(data.begin() + begin, data.begin() + end, int64_t{0});
      EXPECT_EQ(stream_read_sum(data.data(), begin, end, prefetch), expected)
          << "range [" << begin << ", " << end << ") prefetch " << prefetch;
    }
  }
}

}  // namespace
}  // namespace loom
