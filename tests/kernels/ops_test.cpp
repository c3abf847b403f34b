// ops.h: the fast paths against the ggml-rounding references, the references against
// hand-derived values, and RoPE against its definition (rmsnorm: rmsnorm_test.cpp).
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "kernels/ops_kernels.h"
#include "kernels/rope.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::random_floats;
using testing::ScopedIsa;

constexpr int64_t kLengths[] = {1, 7, 8, 9, 64, 172, 2048, 5633};

// |a - b| <= rel * |b| + abs, element by element.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, double rel,
                  double abs) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], rel * std::fabs(b[i]) + abs) << "element " << i;
  }
}

TEST(Softmax, ReferenceSumsToOneAndKeepsOrder) {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, -std::numeric_limits<float>::infinity()};
  ref::softmax(x.data(), 4);
  const double e = std::exp(1.0);
  const double z = 1 + e + e * e;
  EXPECT_NEAR(x[0], 1 / z, 1e-7);
  EXPECT_NEAR(x[1], e / z, 1e-7);
  EXPECT_NEAR(x[2], e * e / z, 1e-7);
  EXPECT_EQ(x[3], 0.0f);
}

TEST(Softmax, FastPathMatchesReference) {
  for (int64_t n : kLengths) {
    std::vector<float> expected = random_floats(n, 3, 5.0f);
    if (n > 4) expected[3] = -std::numeric_limits<float>::infinity();  // a masked score
    std::vector<float> actual = expected;
    ref::softmax(expected.data(), n);
    softmax(actual.data(), n);
    expect_close(actual, expected, 1e-6, 1e-37);
    if (n > 4) {
      EXPECT_EQ(actual[3], 0.0f);
    }
  }
}

TEST(Swiglu, FastPathMatchesReference) {
  for (int64_t n : kLengths) {
    std::vector<float> expected = random_floats(n, 4, 4.0f);
    if (n > 8) {  // the far tails of silu
      expected[0] = -100.0f;
      expected[1] = 100.0f;
      expected[2] = -0.0f;
    }
    const std::vector<float> up = random_floats(n, 5);
    std::vector<float> actual = expected;
    ref::swiglu(expected.data(), up.data(), n);
    swiglu(actual.data(), up.data(), n);
    expect_close(actual, expected, 1e-6, 1e-30);
  }
}

// swiglu runs over (n_tokens, n_ff) at once: a token's values must not depend on how many
// tokens follow it (n_ff = 172 is not a multiple of the vector width).
// The vectorised exponential and the libm tail split a row as the reference engine
// does; the fast path must make exactly the same split and the same roundings.
TEST(Swiglu, FastPathIsBitIdenticalToReference) {
  for (int64_t n : {1, 7, 15, 16, 17, 33, 172, 5632}) {
    std::vector<float> expected = random_floats(n, 8, 6.0f);
    const std::vector<float> up = random_floats(n, 9);
    std::vector<float> actual = expected;
    ref::swiglu(expected.data(), up.data(), n);
    swiglu(actual.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(actual[i]), std::bit_cast<uint32_t>(expected[i]))
          << "n " << n << " element " << i;
    }
  }
}

TEST(Swiglu, VectorisedExponentialIsAccurate) {
  for (float x = -87.0f; x < 88.0f; x += 0.0173f) {
    const double exact = std::exp(static_cast<double>(x));
    ASSERT_NEAR(ref::expf_ggml(x), exact, 3e-7 * exact) << "x = " << x;
  }
}

TEST(Exp, Avx2WithinTwoUlpOfLibm) {
  if (!testing::have_avx2()) GTEST_SKIP() << "no AVX2";
  std::vector<float> x;
  for (float v = -87.0f; v < 88.5f; v += 0.0137f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 0.5f, -0.5f}) x.push_back(v);
  std::vector<float> out(x.size());
  detail::avx2::exp(x.data(), static_cast<int64_t>(x.size()), out.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const double exact = std::exp(static_cast<double>(x[i]));
    ASSERT_NEAR(out[i], exact, 2.4e-7 * exact) << "x = " << x[i];
  }
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> edges = {-inf, -200.0f, 89.0f, inf, std::nanf("")};
  std::vector<float> e(edges.size());
  detail::avx2::exp(edges.data(), 5, e.data());
  EXPECT_EQ(e[0], 0.0f);
  EXPECT_EQ(e[1], 0.0f);
  EXPECT_EQ(e[2], inf);
  EXPECT_EQ(e[3], inf);
  EXPECT_TRUE(std::isnan(e[4]));
}

// y += x on every path: one IEEE addition per element, so bit for bit the scalar loop,
// and nothing written past y + n (a partial vector is a masked or padded store).
TEST(Add, EveryIsaIsBitIdenticalToScalar) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> specials = {inf, -inf, -0.0f, 0.0f, std::nanf(""), 1e-40f};
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (int64_t n : testing::simd_test_lengths()) {
      const auto seed = static_cast<uint32_t>(n);
      const std::vector<float> x = testing::sprinkle(random_floats(n, seed), specials, seed + 1);
      std::vector<float> y = testing::sprinkle(random_floats(n + 16, seed + 2), specials, seed);
      std::vector<float> expected = y;
      for (int64_t i = 0; i < n; ++i) expected[i] += x[i];
      add(y.data(), x.data(), n);
      ASSERT_EQ(testing::first_bit_difference(y, expected), -1) << "n " << n;
    }
  }
}

TEST(Rope, KnownAngles) {
  // head_dim 6, n_rot 4: pairs rotate by pos * 10000^(-0/4) and pos * 10000^(-2/4);
  // the last pair is left alone.
  std::vector<float> x = {1.0f, 0.0f, 1.0f, 0.0f, 5.0f, 6.0f};
  rope(x.data(), 6, 4, 3, 10000.0f);
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], std::cos(0.03), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.03), 1e-6);
  EXPECT_EQ(x[4], 5.0f);
  EXPECT_EQ(x[5], 6.0f);
}

TEST(Rope, PositionZeroIsIdentityAndNormIsKept) {
  const std::vector<float> x = random_floats(64, 9);
  std::vector<float> y = x;
  rope(y.data(), 64, 64, 0, 10000.0f);
  EXPECT_EQ(y, x);
  rope(y.data(), 64, 64, 1234, 10000.0f);
  for (int i = 0; i < 64; i += 2) {
    EXPECT_NEAR(std::hypot(y[i], y[i + 1]), std::hypot(x[i], x[i + 1]), 1e-5);
  }
}

// The angle recurrence of ggml in f32: theta_{i+1} = theta_i * base^(-2 / n_rot).
TEST(Rope, AnglesFollowTheF32Recurrence) {
  const int64_t n_rot = 64;
  const int64_t pos = 517;
  std::vector<float> angles(n_rot);
  rope_angles(RopeParams{.n_rot = n_rot, .freq_base = 10000.0f}, pos, angles.data());
  const float theta_scale = std::pow(10000.0f, -2.0f / 64.0f);
  float theta = 517.0f;
  for (int64_t i = 0; i < n_rot; i += 2) {
    EXPECT_EQ(angles[i], std::cos(theta)) << i;
    EXPECT_EQ(angles[i + 1], std::sin(theta)) << i;
    theta *= theta_scale;
  }
}

TEST(Rope, TwoStepFormIsBitIdentical) {
  for (int64_t pos : {0, 1, 17, 4095}) {
    const std::vector<float> x = random_floats(128, static_cast<uint32_t>(pos));
    std::vector<float> one = x;
    std::vector<float> two = x;
    rope(one.data(), 128, 96, pos, 500000.0f);
    std::vector<float> angles(96);
    rope_angles(RopeParams{.n_rot = 96, .freq_base = 500000.0f}, pos, angles.data());
    rope_rotate(two.data(), 96, angles.data());
    EXPECT_EQ(one, two) << "pos " << pos;
  }
}

TEST(Rope, RejectsBadRotationWidth) {
  std::vector<float> x(8);
  EXPECT_THROW(rope(x.data(), 8, 10, 1, 10000.0f), Error);
  EXPECT_THROW(rope(x.data(), 8, 3, 1, 10000.0f), Error);
}

}  // namespace
}  // namespace loom::kernels
