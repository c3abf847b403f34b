// gelu and geglu: the f16 table against the tanh formula in double, the exact thresholds
// at +-10, every SIMD path bit for bit against the reference (the table gather included),
// and an element's value independent of the array it sits in.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "core/fp16.h"
#include "kernels/isa.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::first_bit_difference;
using testing::random_floats;
using testing::ScopedIsa;

constexpr float kInf = std::numeric_limits<float>::infinity();

double gelu_f64(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * x * (1.0 + 0.044715 * x * x)));
}

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

// The edges of gelu's branches and of the f16 conversion.
std::vector<float> gelu_specials() {
  return {10.0f,
          -10.0f,
          std::nextafter(10.0f, 0.0f),
          std::nextafter(10.0f, kInf),
          std::nextafter(-10.0f, 0.0f),
          std::nextafter(-10.0f, -kInf),
          0.0f,
          -0.0f,
          kInf,
          -kInf,
          std::numeric_limits<float>::quiet_NaN(),
          -std::numeric_limits<float>::quiet_NaN(),
          std::bit_cast<float>(0x7fa12345u),  // signalling NaN with a payload
          1e-40f,                             // f32 subnormal
          -3e-6f,                             // f16 subnormal
          2.9e-8f,                            // rounds to the f16 zero
          65504.0f,
          1e30f,
          -1e30f,
          0.5f,
          -0.75f};
}

float one_gelu(float x) {
  gelu(&x, 1);
  return x;
}

// The table holds f16(gelu(f16(x))): within an f16 rounding (2^-11 relative, 2^-25 among
// the subnormals) of the formula at the rounded input, plus the f32 formula's own error
// where 1 + tanh cancels (x < -3): an ulp of tanh near -1 (2^-24) times x / 2.
TEST(Gelu, ReferenceMatchesTanhFormulaWithinF16Rounding) {
  std::vector<float> xs;
  for (int i = -20000; i <= 20000; ++i) xs.push_back(static_cast<float>(i) * 5e-4f);
  for (float x : random_floats(10000, 1, 4.0f)) xs.push_back(x);
  std::vector<float> ys = xs;
  ref::gelu(ys.data(), static_cast<int64_t>(ys.size()));
  for (size_t i = 0; i < xs.size(); ++i) {
    const float x = xs[i];
    if (x <= -10.0f || x >= 10.0f) continue;
    const double at_rounded = gelu_f64(fp16_to_fp32(fp32_to_fp16(x)));
    const double f32_error = 0x1p-25 + 0x1p-25 * std::fabs(x);
    ASSERT_NEAR(ys[i], at_rounded, 0x1p-11 * std::fabs(at_rounded) + f32_error) << "x = " << x;
    // Against the formula at x itself: the rounding of the input adds ~1e-3 relative.
    ASSERT_NEAR(ys[i], gelu_f64(x), 1.2e-3 * std::fabs(x) + f32_error) << "x = " << x;
  }
}

// x <= -10 gives +0 and x >= 10 gives x itself; just inside, the table answers (-0 for
// f16(-10), 10 for any x that rounds to f16 10).
TEST(Gelu, ThresholdsAreExact) {
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    EXPECT_EQ(bits(one_gelu(-10.0f)), 0u);
    EXPECT_EQ(bits(one_gelu(-1e30f)), 0u);
    EXPECT_EQ(bits(one_gelu(-kInf)), 0u);
    EXPECT_EQ(bits(one_gelu(std::nextafter(-10.0f, 0.0f))), 0x80000000u);
    const float above = std::nextafter(10.0f, kInf);
    EXPECT_EQ(one_gelu(above), above);
    EXPECT_EQ(one_gelu(10.0f), 10.0f);
    EXPECT_EQ(one_gelu(std::nextafter(10.0f, 0.0f)), 10.0f);
    EXPECT_EQ(one_gelu(9.99f), 9.9921875f);  // f16(9.99)
    EXPECT_EQ(one_gelu(kInf), kInf);
    EXPECT_TRUE(std::isnan(one_gelu(std::numeric_limits<float>::quiet_NaN())));
  }
}

TEST(Gelu, EveryIsaIsBitIdenticalToReference) {
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (int64_t n : testing::simd_test_lengths()) {
      const auto seed = static_cast<uint32_t>(n);
      const std::vector<float> x =
          testing::sprinkle(random_floats(n, seed, 6.0f), gelu_specials(), seed);
      std::vector<float> expected = x, actual = x;
      ref::gelu(expected.data(), n);
      gelu(actual.data(), n);
      ASSERT_EQ(first_bit_difference(actual, expected), -1) << "n " << n;
    }
  }
}

// Every f16 value (and so every table entry, the last one included) through each path.
TEST(Gelu, EveryIsaAgreesOnEveryHalf) {
  std::vector<float> x(65536);
  for (uint32_t h = 0; h < 65536; ++h) x[h] = fp16_to_fp32(static_cast<uint16_t>(h));
  std::vector<float> expected = x;
  ref::gelu(expected.data(), 65536);
  for (Isa isa : testing::supported_isas()) {
    ScopedIsa scoped(isa);
    std::vector<float> actual = x;
    gelu(actual.data(), 65536);
    const int64_t at = first_bit_difference(actual, expected);
    ASSERT_EQ(at, -1) << isa_name(isa) << " f16 0x" << std::hex << at;
  }
}

// geglu(g, u) = gelu(g) * u, except that g <= -10 gives +0 whatever u holds.
TEST(Geglu, ReferenceIsGeluTimesUp) {
  const int64_t n = 1000;
  const std::vector<float> g = testing::sprinkle(random_floats(n, 3, 6.0f), gelu_specials(), 3);
  std::vector<float> u = random_floats(n, 4);
  u[0] = kInf;
  u[1] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> expected = g;
  ref::gelu(expected.data(), n);
  std::vector<float> actual = g;
  ref::geglu(actual.data(), u.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const float want = g[i] <= -10.0f ? 0.0f : expected[i] * u[i];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(actual[i])) << i;
    } else {
      EXPECT_EQ(bits(actual[i]), bits(want)) << i << ": g " << g[i] << " u " << u[i];
    }
  }
  std::vector<float> low = {-10.0f, -1e30f};
  const std::vector<float> wild = {kInf, std::numeric_limits<float>::quiet_NaN()};
  ref::geglu(low.data(), wild.data(), 2);
  EXPECT_EQ(bits(low[0]), 0u);
  EXPECT_EQ(bits(low[1]), 0u);
}

TEST(Geglu, EveryIsaIsBitIdenticalToReference) {
  // No NaN in up: NaN times NaN keeps the first operand's payload, an order the
  // compiler may swap in the scalar code.
  const std::vector<float> up_specials = {kInf, -kInf, 0.0f, -0.0f, 1e-40f, 1e30f};
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (int64_t n : testing::simd_test_lengths()) {
      const auto seed = static_cast<uint32_t>(n);
      const std::vector<float> g =
          testing::sprinkle(random_floats(n, seed, 6.0f), gelu_specials(), seed);
      const std::vector<float> u =
          testing::sprinkle(random_floats(n, seed + 1, 2.0f), up_specials, seed + 1);
      std::vector<float> expected = g, actual = g;
      ref::geglu(expected.data(), u.data(), n);
      geglu(actual.data(), u.data(), n);
      ASSERT_EQ(first_bit_difference(actual, expected), -1) << "n " << n;
    }
  }
}

// One long row at once, then windows of it at other offsets and lengths: each element
// comes out the same wherever it falls relative to a vector boundary.
TEST(Gelu, ElementDoesNotDependOnTheArray) {
  const int64_t n = 4096 + 13;
  const std::vector<float> g = random_floats(n, 21, 6.0f);
  const std::vector<float> u = random_floats(n, 22);
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    std::vector<float> whole_gelu = g, whole_geglu = g;
    gelu(whole_gelu.data(), n);
    geglu(whole_geglu.data(), u.data(), n);
    for (int64_t offset : {1, 3, 8, 13, 100}) {
      for (int64_t length : {1, 5, 7, 9, 17, 31, 100}) {
        std::vector<float> part(g.begin() + offset, g.begin() + offset + length);
        const std::vector<float> part_up(u.begin() + offset, u.begin() + offset + length);
        std::vector<float> part_geglu = part;
        gelu(part.data(), length);
        geglu(part_geglu.data(), part_up.data(), length);
        const std::vector<float> want_gelu(whole_gelu.begin() + offset,
                                           whole_gelu.begin() + offset + length);
        const std::vector<float> want_geglu(whole_geglu.begin() + offset,
                                            whole_geglu.begin() + offset + length);
        ASSERT_EQ(first_bit_difference(part, want_gelu), -1) << offset << "+" << length;
        ASSERT_EQ(first_bit_difference(part_geglu, want_geglu), -1) << offset << "+" << length;
      }
    }
  }
}

}  // namespace
}  // namespace loom::kernels
