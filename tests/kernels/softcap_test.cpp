// tanh_f32 and softcap: tanh against std::tanh in double (absolute and, near 0, relative
// error), its special values, softcap's bounds and symmetry, and every SIMD path bit for
// bit against the reference (tanh's two branches and their edge included).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/isa.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::first_bit_difference;
using testing::random_floats;
using testing::ScopedIsa;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

// A dense sweep of [-20, 20], every float within 2000 ulps of the branch edge 0.625 and
// of the clamp at 10, and a geometric sweep down to the subnormals.
std::vector<float> tanh_probe() {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  for (float edge : {0.625f, 10.0f}) {
    float v = edge;
    for (int i = 0; i < 2000; ++i) v = std::nextafter(v, 0.0f);
    for (int i = 0; i < 4000; ++i, v = std::nextafter(v, kInf)) {
      x.push_back(v);
      x.push_back(-v);
    }
  }
  for (float v = 1e-37f; v < 20.0f; v *= 1.001f) {
    x.push_back(v);
    x.push_back(-v);
  }
  for (float v : {1e-45f, 1e-40f, 1e-38f}) {  // subnormals
    x.push_back(v);
    x.push_back(-v);
  }
  return x;
}

std::vector<float> tanh_specials() {
  return {0.0f,
          -0.0f,
          kInf,
          -kInf,
          kNaN,
          -kNaN,
          0.625f,
          -0.625f,
          10.0f,
          -10.0f,
          1e-40f,
          -1e-40f,
          1e30f,
          -1e30f,
          std::nextafter(0.625f, 0.0f),
          std::nextafter(0.625f, 1.0f)};
}

TEST(Tanh, WithinTwoTenthsOfAMillionthOfTanh) {
  double worst_abs = 0, worst_rel = 0;
  for (float x : tanh_probe()) {
    const double exact = std::tanh(static_cast<double>(x));
    const double error = std::fabs(ref::tanh_f32(x) - exact);
    ASSERT_LE(error, 2e-7) << "x = " << x;
    worst_abs = std::max(worst_abs, error);
    // Near 0 the polynomial keeps the error relative (1 - 2 / (e^2x + 1) would not).
    if (x != 0.0f) worst_rel = std::max(worst_rel, error / std::fabs(exact));
    ASSERT_LE(error, 2.5e-7 * std::fabs(exact)) << "x = " << x;
  }
  RecordProperty("max_abs_error", std::to_string(worst_abs));
  RecordProperty("max_rel_error", std::to_string(worst_rel));
}

TEST(Tanh, SpecialValues) {
  EXPECT_EQ(bits(ref::tanh_f32(0.0f)), bits(0.0f));
  EXPECT_EQ(bits(ref::tanh_f32(-0.0f)), bits(-0.0f));
  EXPECT_EQ(ref::tanh_f32(kInf), 1.0f);
  EXPECT_EQ(ref::tanh_f32(-kInf), -1.0f);
  EXPECT_EQ(ref::tanh_f32(1e30f), 1.0f);
  EXPECT_EQ(ref::tanh_f32(-10.0f), -1.0f);
  EXPECT_EQ(ref::tanh_f32(1e-40f), 1e-40f);  // subnormal: tanh x = x
  EXPECT_EQ(ref::tanh_f32(-1e-20f), -1e-20f);
  EXPECT_TRUE(std::isnan(ref::tanh_f32(kNaN)));
  EXPECT_TRUE(std::isnan(ref::tanh_f32(-kNaN)));
}

TEST(Tanh, IsOdd) {
  for (float x : tanh_probe()) {
    ASSERT_EQ(bits(ref::tanh_f32(-x)), bits(-ref::tanh_f32(x))) << "x = " << x;
  }
}

TEST(Softcap, ReferenceMatchesDefinition) {
  for (float cap : {50.0f, 30.0f, 1.0f, 0.25f}) {
    const int64_t n = 10000;
    const std::vector<float> x = random_floats(n, 1, 2.0f * cap);
    std::vector<float> y = x;
    ref::softcap(y.data(), n, cap);
    for (int64_t i = 0; i < n; ++i) {
      const double exact = cap * std::tanh(static_cast<double>(x[i]) / cap);
      ASSERT_NEAR(y[i], exact, 4e-7 * cap) << "cap " << cap << " x " << x[i];
    }
  }
}

// |y| <= cap, strictly while tanh is below 1 in f32; softcap(-x) = -softcap(x); and
// small scores pass almost unchanged.
TEST(Softcap, BoundedOddAndNearIdentityForSmallScores) {
  const float cap = 30.0f;
  const int64_t n = 20000;
  std::vector<float> x = random_floats(n, 2, 100.0f);
  x[0] = kInf;
  x[1] = -1e30f;
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    std::vector<float> y = x, minus_y(n);
    for (int64_t i = 0; i < n; ++i) minus_y[i] = -x[i];
    softcap(y.data(), n, cap);
    softcap(minus_y.data(), n, cap);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_LE(std::fabs(y[i]), cap) << x[i];
      if (std::fabs(x[i]) < 2.0f * cap) {
        ASSERT_LT(std::fabs(y[i]), cap) << x[i];
      }
      ASSERT_EQ(bits(minus_y[i]), bits(-y[i])) << x[i];
      if (std::fabs(x[i]) < 0.01f * cap) {
        ASSERT_NEAR(y[i], x[i], std::fabs(x[i]) * 1e-4) << x[i];
      }
    }
    EXPECT_EQ(y[0], cap);
    EXPECT_EQ(y[1], -cap);
  }
}

TEST(Softcap, EveryIsaIsBitIdenticalToReference) {
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (float cap : {30.0f, 50.0f, 0.3f}) {
      std::vector<float> specials = tanh_specials();
      for (float s : tanh_specials()) specials.push_back(s * cap);
      for (int64_t n : testing::simd_test_lengths()) {
        const auto seed = static_cast<uint32_t>(n);
        const std::vector<float> x = testing::sprinkle(random_floats(n, seed, cap), specials, seed);
        std::vector<float> expected = x, actual = x;
        ref::softcap(expected.data(), n, cap);
        softcap(actual.data(), n, cap);
        ASSERT_EQ(first_bit_difference(actual, expected), -1) << "cap " << cap << " n " << n;
      }
    }
  }
}

// With cap 1, softcap is tanh_f32 itself (x * 1 and 1 * t are exact): each vector tanh
// against the scalar one over the whole probe, both branches and the edges.
TEST(Softcap, EveryIsaComputesTanhAsTheReference) {
  std::vector<float> x = tanh_probe();
  for (float s : tanh_specials()) x.push_back(s);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<float> expected(x.size());
  for (size_t i = 0; i < x.size(); ++i) expected[i] = ref::tanh_f32(x[i]);
  for (Isa isa : testing::supported_isas()) {
    ScopedIsa scoped(isa);
    std::vector<float> actual = x;
    softcap(actual.data(), n, 1.0f);
    const int64_t at = first_bit_difference(actual, expected);
    ASSERT_EQ(at, -1) << isa_name(isa) << " x = " << (at >= 0 ? x[at] : 0.0f);
  }
}

TEST(Softcap, ElementDoesNotDependOnTheArray) {
  const int64_t n = 4096 + 13;
  const std::vector<float> x = random_floats(n, 31, 40.0f);
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    std::vector<float> whole = x;
    softcap(whole.data(), n, 30.0f);
    for (int64_t offset : {1, 3, 8, 13, 100}) {
      for (int64_t length : {1, 5, 7, 9, 17, 31, 100}) {
        std::vector<float> part(x.begin() + offset, x.begin() + offset + length);
        softcap(part.data(), length, 30.0f);
        const std::vector<float> want(whole.begin() + offset, whole.begin() + offset + length);
        ASSERT_EQ(first_bit_difference(part, want), -1) << offset << "+" << length;
      }
    }
  }
}

}  // namespace
}  // namespace loom::kernels
