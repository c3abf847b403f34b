#include "core/aligned_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace {

using loom::AlignedBuffer;

bool all_zero(const AlignedBuffer<uint32_t>& b) {
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

// Small buffers come from the heap, large ones from mmap; both start zeroed and aligned
// (64 bytes; 2 MiB for the large ones, so they can take huge pages).
TEST(AlignedBuffer, SmallAndLargeBuffersStartZeroedAndAligned) {
  for (const size_t count : {size_t{1}, size_t{1000}, size_t{3} << 20, (size_t{5} << 20) + 7}) {
    SCOPED_TRACE(count);
    AlignedBuffer<uint32_t> b(count);
    ASSERT_EQ(b.size(), count);
    const auto address = reinterpret_cast<uintptr_t>(b.data());
    EXPECT_EQ(address % AlignedBuffer<uint32_t>::kAlignment, 0u);
    if (count * sizeof(uint32_t) >= AlignedBuffer<uint32_t>::kHugeThreshold) {
      EXPECT_EQ(address % AlignedBuffer<uint32_t>::kHugePage, 0u);
    }
    EXPECT_TRUE(all_zero(b));
    b[0] = 1;
    b[count - 1] = 2;  // the last element is writable
    EXPECT_EQ(b[count - 1], 2u);
  }
}

// Resizing between the heap and mmap kinds gives a zeroed buffer each time; moves hand
// the buffer over whole.
TEST(AlignedBuffer, ResizeAndMoveKeepTheContract) {
  AlignedBuffer<uint32_t> b(16);
  b[3] = 7;
  b.resize(size_t{2} << 20);  // to mmap
  EXPECT_TRUE(all_zero(b));
  b[5] = 9;
  AlignedBuffer<uint32_t> moved(std::move(b));
  EXPECT_EQ(moved[5], 9u);
  EXPECT_EQ(moved.size(), size_t{2} << 20);
  moved.resize(32);  // back to the heap
  EXPECT_TRUE(all_zero(moved));
  AlignedBuffer<uint32_t> other(size_t{3} << 20);
  other = std::move(moved);
  EXPECT_EQ(other.size(), 32u);
  other.resize(0);
  EXPECT_EQ(other.size(), 0u);
  EXPECT_EQ(other.data(), nullptr);
}

}  // namespace
