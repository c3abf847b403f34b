// layernorm: the scalar reference against the float64 definition and its documented
// summation order, every SIMD path bit for bit against the reference, and a row's result
// independent of the rows around it.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "kernels/isa.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::first_bit_difference;
using testing::random_floats;
using testing::ScopedIsa;

// (x - mean) / sqrt(var + eps) * w + b with everything in double.
std::vector<double> layernorm_f64(const std::vector<float>& x, const float* w, const float* b,
                                  float eps) {
  const auto n = static_cast<double>(x.size());
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= n;
  for (float v : x) var += (v - mean) * (v - mean);
  var /= n;
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    out[i] = (x[i] - mean) / std::sqrt(var + static_cast<double>(eps));
    if (w != nullptr) out[i] *= w[i];
    if (b != nullptr) out[i] += b[i];
  }
  return out;
}

std::vector<float> shifted(std::vector<float> x, float offset) {
  for (float& v : x) v += offset;
  return x;
}

TEST(LayerNorm, ReferenceMatchesFloat64Definition) {
  struct Row {
    int64_t n;
    float offset, spread, eps;
    double tolerance;  // relative to 1 + |expected|
  };
  // A large offset checks that the variance is taken around the mean (two passes); a
  // large eps against a small variance checks where eps goes.
  for (const Row& r : {Row{7, 0.0f, 1.0f, 1e-5f, 2e-6}, Row{4096 + 13, 0.5f, 2.0f, 1e-5f, 2e-6},
                       Row{300, 1000.0f, 1.0f, 1e-5f, 1e-4}, Row{64, 0.0f, 0.1f, 0.1f, 2e-6}}) {
    SCOPED_TRACE(r.n);
    const std::vector<float> x = shifted(random_floats(r.n, 1, r.spread), r.offset);
    const std::vector<float> w = random_floats(r.n, 2);
    const std::vector<float> b = random_floats(r.n, 3);
    std::vector<float> out(r.n);
    ref::layernorm(x.data(), w.data(), b.data(), r.n, r.eps, out.data());
    const std::vector<double> expected = layernorm_f64(x, w.data(), b.data(), r.eps);
    for (int64_t i = 0; i < r.n; ++i) {
      ASSERT_NEAR(out[i], expected[i], r.tolerance * (1 + std::fabs(expected[i]))) << i;
    }
  }
}

// The sums follow ref::layernorm's lane order (element i in lane i % 16, lanes folded in
// halves). These rows make the order visible: 2^60 and -2^60 cancel in one lane while a 1
// survives in another; a sequential sum, 8 lanes, or lanes added one after another lose
// the 1 in 2^60 + 1 and make the mean 0, leaving the zeros at 0 instead of below it.
TEST(LayerNorm, ReferenceSumsInLaneOrder) {
  const int64_t n = 40;
  for (const auto& [big, one, minus_big] :
       {std::tuple{0, 1, 16}, std::tuple{0, 8, 16}, std::tuple{0, 1, 8}}) {
    std::vector<float> x(n, 0.0f);
    x[big] = 0x1p60f;
    x[one] = 1.0f;
    x[minus_big] = -0x1p60f;
    std::vector<float> out(n);
    ref::layernorm(x.data(), nullptr, nullptr, n, 0.0f, out.data());
    EXPECT_LT(out[2], 0.0f) << "1 at " << one << ", -2^60 at " << minus_big;
  }
}

// The variance sum in the same order: squares 2 (lane 0) and 2^-23 (lane 1) make a tie
// halfway between two floats; eight 2^-54 in lane 8 add up to one double ulp that breaks
// it upwards, but only if they are summed before meeting lane 0 (sequentially, or with 8
// lanes, each is lost against 2 and the tie rounds to even).
std::vector<float> variance_order_row() {
  std::vector<float> x(128, 0.0f);
  x[0] = 1.0f;
  x[16] = -1.0f;
  x[1] = 0x1p-12f;
  x[17] = -0x1p-12f;
  for (int k = 0; k < 8; ++k) x[8 + 16 * k] = k % 2 == 0 ? 0x1p-27f : -0x1p-27f;
  return x;
}

TEST(LayerNorm, ReferenceSumsSquaresInLaneOrder) {
  const std::vector<float> x = variance_order_row();
  std::vector<float> out(x.size());
  ref::layernorm(x.data(), nullptr, nullptr, 128, 1e-5f, out.data());
  // mean 0; variance (2 + 2^-23 + 2^-51) / 128 rounds up to 2^-6 (1 + 2^-23).
  const float variance = std::nextafter(0x1p-6f, 1.0f);
  EXPECT_EQ(out[0], 1.0f / std::sqrt(variance + 1e-5f));
  EXPECT_NE(out[0], 1.0f / std::sqrt(0x1p-6f + 1e-5f));
}

// 2^60 at 0, a 1 and -2^60 at every other pair of positions among the first 32: whether
// the 1 survives depends on which lanes meet first, so any two summation orders give a
// different mean for some of these rows.
std::vector<std::vector<float>> cancellation_rows() {
  std::vector<std::vector<float>> rows;
  for (int one = 1; one < 32; ++one) {
    for (int minus_big = 1; minus_big < 32; ++minus_big) {
      if (one == minus_big) continue;
      std::vector<float> x(40, 0.0f);
      x[0] = 0x1p60f;
      x[one] = 1.0f;
      x[minus_big] = -0x1p60f;
      rows.push_back(x);
    }
  }
  return rows;
}

TEST(LayerNorm, EveryIsaIsBitIdenticalToReference) {
  std::vector<std::vector<float>> rows = cancellation_rows();
  for (int64_t n : testing::simd_test_lengths()) {
    rows.push_back(shifted(random_floats(n, static_cast<uint32_t>(n), 3.0f), 0.5f));
  }
  rows.push_back(variance_order_row());
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (const std::vector<float>& x : rows) {
      const auto n = static_cast<int64_t>(x.size());
      const std::vector<float> w = random_floats(n, 7);
      const std::vector<float> b = random_floats(n, 8);
      // weight and bias, only one, or neither
      for (int mode = 0; mode < 4; ++mode) {
        const float* wp = mode & 1 ? nullptr : w.data();
        const float* bp = mode & 2 ? nullptr : b.data();
        std::vector<float> expected(n), actual(n);
        ref::layernorm(x.data(), wp, bp, n, 1e-5f, expected.data());
        layernorm(x.data(), wp, bp, n, 1e-5f, actual.data());
        ASSERT_EQ(first_bit_difference(actual, expected), -1) << "n " << n << " mode " << mode;
      }
    }
  }
}

TEST(LayerNorm, MissingWeightAndBiasAreOneAndZero) {
  const int64_t n = 77;
  const std::vector<float> x = random_floats(n, 4);
  const std::vector<float> ones(n, 1.0f), zeros(n, 0.0f);
  for (Isa isa : testing::supported_isas()) {
    ScopedIsa scoped(isa);
    std::vector<float> a(n), b(n);
    layernorm(x.data(), nullptr, nullptr, n, 1e-5f, a.data());
    layernorm(x.data(), ones.data(), zeros.data(), n, 1e-5f, b.data());
    EXPECT_EQ(a, b) << isa_name(isa);
  }
}

// Rows normalised in place inside one (n_rows, n) buffer, at unaligned addresses, equal
// each row normalised alone.
TEST(LayerNorm, RowDoesNotDependOnTheBatch) {
  for (int64_t n : {37, 4096 + 13}) {
    const int64_t n_rows = 5;
    const std::vector<float> batch = random_floats(n_rows * n, 11, 2.0f);
    const std::vector<float> w = random_floats(n, 12);
    const std::vector<float> b = random_floats(n, 13);
    for (Isa isa : testing::supported_isas()) {
      ScopedIsa scoped(isa);
      std::vector<float> out(n_rows * n);
      for (int64_t r = 0; r < n_rows; ++r) {
        layernorm(batch.data() + r * n, w.data(), b.data(), n, 1e-5f, out.data() + r * n);
      }
      for (int64_t r = 0; r < n_rows; ++r) {
        const std::vector<float> row(batch.begin() + r * n, batch.begin() + (r + 1) * n);
        std::vector<float> alone(n);
        layernorm(row.data(), w.data(), b.data(), n, 1e-5f, alone.data());
        const std::vector<float> in_batch(out.begin() + r * n, out.begin() + (r + 1) * n);
        ASSERT_EQ(first_bit_difference(in_batch, alone), -1) << isa_name(isa) << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace loom::kernels
