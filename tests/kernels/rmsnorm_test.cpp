// rmsnorm: the scalar reference against the float64 definition and its documented
// summation order, every SIMD path bit for bit against the reference, and a row's result
// independent of the rows around it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <random>
#include <utility>
#include <vector>

#include "kernels/isa.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::first_bit_difference;
using testing::random_floats;
using testing::ScopedIsa;

// x / sqrt(mean(x^2) + eps) * w with everything in double.
std::vector<double> rmsnorm_f64(const std::vector<float>& x, const std::vector<float>& w,
                                float eps) {
  double sum = 0;
  for (float v : x) sum += static_cast<double>(v) * v;
  const double scale = 1.0 / std::sqrt(sum / static_cast<double>(x.size()) + eps);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * scale * w[i];
  return out;
}

TEST(RmsNorm, ReferenceMatchesFloat64Definition) {
  struct Row {
    int64_t n;
    float spread, eps;
  };
  // A large eps against a small mean square checks where eps goes.
  for (const Row& r : {Row{1, 1.0f, 1e-5f}, Row{4, 1.0f, 1e-6f}, Row{7, 1.0f, 1e-5f},
                       Row{300, 100.0f, 1e-5f}, Row{4096 + 13, 3.0f, 1e-6f}, Row{64, 0.1f, 0.1f}}) {
    SCOPED_TRACE(r.n);
    const std::vector<float> x = random_floats(r.n, 1, r.spread);
    const std::vector<float> w = random_floats(r.n, 2);
    std::vector<float> out(r.n);
    ref::rmsnorm(x.data(), w.data(), r.n, r.eps, out.data());
    const std::vector<double> expected = rmsnorm_f64(x, w, r.eps);
    for (int64_t i = 0; i < r.n; ++i) {
      // Four f32 roundings (mean, sqrt, division, two products) of a few 2^-24 each.
      ASSERT_NEAR(out[i], expected[i], 5e-7 * std::fabs(expected[i]) + 1e-30) << i;
    }
  }
}

// Rows whose sum of squares rounds differently depending on the order of the additions:
// squares 1 and 2^-24 make 1 + 2^-24 (halfway between two floats once divided by n = 64
// or 128), and tiny squares, each at most half a double ulp of it, break the tie upwards
// only when enough of them are summed before they meet the 1.
constexpr float kOne = 1.0f;
constexpr float kTieHalf = 0x1p-12f;  // squares to 2^-24
constexpr float kTiny = 0x1p-27f;     // squares to 2^-54

// Squares 1 and 2^-24 in the lane of `big` (at big and in a later row of 16), two 2^-54
// in each of the lanes small_a and small_b (at two of the rows of 16 of a 64-element row):
// 2^-53 per small lane, half a double ulp of 1 + 2^-24. If the two small lanes meet first
// their 2^-52 survives and breaks the tie upwards; if either meets the big lane first it
// is lost (a tie that rounds to the even 1 + 2^-24) and the mean rounds down to 2^-6.
// The rows of 16 the values sit in vary, so the lane of an element is its index modulo 16.
std::vector<float> lane_order_row(int big, int small_a, int small_b) {
  std::vector<float> x(64, 0.0f);
  x[big] = kOne;
  x[big + 16 * (1 + big % 3)] = kTieHalf;
  for (int p : {small_a, small_b}) {
    const int row = (p + big) % 4;
    x[p + 16 * row] = kTiny;
    x[p + 16 * ((row + 1 + p % 3) % 4)] = kTiny;
  }
  return x;
}

std::vector<std::vector<float>> lane_order_rows() {
  std::vector<std::vector<float>> rows;
  for (int big = 0; big < 16; ++big) {
    for (int a = 0; a < 16; ++a) {
      for (int b = a + 1; b < 16; ++b) {
        if (a != big && b != big) rows.push_back(lane_order_row(big, a, b));
      }
    }
  }
  return rows;
}

// Lanes p and q (< 16) meet at the fold of width w = lowest set bit of p ^ q (l += l + w
// joins lanes that agree below bit w and differ in it); wider folds come first.
int meeting_width(int p, int q) {
  return (p ^ q) & -(p ^ q);
}

// 1 / sqrt(mean + eps) for a mean of 2^-k rounded up by one ulp or not.
float scale_for(float power_of_two_mean, bool rounded_up, float eps) {
  return 1.0f /
         std::sqrt((rounded_up ? std::nextafter(power_of_two_mean, 1.0f) : power_of_two_mean) +
                   eps);
}

// Every triple of distinct lanes: the reference's result says which pair met first, and
// it must be the pair the halving fold joins first. (The triples fix the fold tree.)
TEST(RmsNorm, ReferenceFoldsLanesInHalves) {
  const std::vector<float> ones(64, 1.0f);
  const float eps = 1e-5f;
  ASSERT_NE(scale_for(0x1p-6f, true, eps), scale_for(0x1p-6f, false, eps));
  int kept = 0, lost = 0;
  for (int big = 0; big < 16; ++big) {
    for (int a = 0; a < 16; ++a) {
      for (int b = a + 1; b < 16; ++b) {
        if (a == big || b == big) continue;
        const std::vector<float> x = lane_order_row(big, a, b);
        std::vector<float> out(64);
        ref::rmsnorm(x.data(), ones.data(), 64, eps, out.data());
        const bool smalls_first = meeting_width(a, b) > meeting_width(big, a);
        (smalls_first ? kept : lost) += 1;
        ASSERT_EQ(out[big], scale_for(0x1p-6f, smalls_first, eps))
            << "big " << big << " small " << a << ", " << b;
      }
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(lost, 0);
}

// Within a lane the squares are added in index order: four 2^-54 before the 1 make one
// ulp that survives, after it each is lost.
TEST(RmsNorm, ReferenceSumsEachLaneInIndexOrder) {
  const std::vector<float> ones(128, 1.0f);
  const float eps = 1e-5f;
  for (bool tiny_first : {true, false}) {
    std::vector<float> x(128, 0.0f);
    const int lane = 3;
    const std::vector<float> order = tiny_first
                                         ? std::vector{kTiny, kTiny, kTiny, kTiny, kOne, kTieHalf}
                                         : std::vector{kOne, kTieHalf, kTiny, kTiny, kTiny, kTiny};
    for (size_t k = 0; k < order.size(); ++k) x[lane + 16 * k] = order[k];
    std::vector<float> out(128);
    ref::rmsnorm(x.data(), ones.data(), 128, eps, out.data());
    EXPECT_EQ(out[lane + 16 * (tiny_first ? 4 : 0)], scale_for(0x1p-7f, tiny_first, eps))
        << "tiny first " << tiny_first;
  }
}

// 128 elements: a 1, a 2^-12 and four or five squares of 2^-54 (a quarter of a double
// ulp of 1 + 2^-24: each is lost on its own against the 1, three or more summed first
// survive), zeros elsewhere. Most of the tiny values go where the 1 is modulo 8, so that
// they share its lane, or a lane it meets early, under 8, 16 or 32 lanes.
std::vector<std::vector<float>> tie_rows() {
  std::mt19937 rng(2024);
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < 2000; ++r) {
    std::vector<float> x(128, 0.0f);
    const size_t one = rng() % 128;
    x[one] = kOne;
    auto free_place = [&](bool near_one) {
      size_t p;
      do {
        p = near_one ? one % 8 + 8 * (rng() % 16) : rng() % 128;
      } while (x[p] != 0.0f);
      return p;
    };
    x[free_place(false)] = kTieHalf;
    for (int k = 4 + static_cast<int>(rng() % 2); k > 0; --k) x[free_place(rng() % 4 != 0)] = kTiny;
    rows.push_back(x);
  }
  return rows;
}

// A summation order: the squares (in f32) of element i into lane i % n_lanes, each lane
// in index order, then the lanes combined in halves, one after another, or in adjacent
// pairs.
enum class Fold { kHalves, kLinear, kAdjacentPairs };

double sum_squares(const std::vector<float>& x, int n_lanes, Fold fold) {
  std::vector<double> lanes(n_lanes, 0.0);
  for (size_t i = 0; i < x.size(); ++i) lanes[i % n_lanes] += static_cast<double>(x[i] * x[i]);
  if (fold == Fold::kLinear) {
    for (int l = 1; l < n_lanes; ++l) lanes[0] += lanes[l];
  } else if (fold == Fold::kHalves) {
    for (int w = n_lanes / 2; w >= 1; w /= 2) {
      for (int l = 0; l < w; ++l) lanes[l] += lanes[l + w];
    }
  } else {
    for (int step = 1; step < n_lanes; step *= 2) {
      for (int l = 0; l < n_lanes; l += 2 * step) lanes[l] += lanes[l + step];
    }
  }
  return lanes[0];
}

// The tie rows follow the documented order (16 lanes folded in halves) in the reference,
// and every other plausible order gives a different result on some of them, so the
// bit-identity test below tells a SIMD path that sums in another order.
TEST(RmsNorm, TieRowsTellSummationOrdersApart) {
  const std::vector<std::vector<float>> rows = tie_rows();
  const std::vector<float> ones(128, 1.0f);
  const float eps = 1e-5f;
  struct Order {
    const char* name;
    int n_lanes;
    Fold fold;
  };
  const Order documented{"16 lanes in halves", 16, Fold::kHalves};
  const Order others[] = {{"sequential", 1, Fold::kLinear},
                          {"8 lanes in halves", 8, Fold::kHalves},
                          {"16 lanes one after another", 16, Fold::kLinear},
                          {"16 lanes in adjacent pairs", 16, Fold::kAdjacentPairs},
                          {"32 lanes in halves", 32, Fold::kHalves}};
  auto scale = [&](const std::vector<float>& x, const Order& order) {
    const auto mean = static_cast<float>(sum_squares(x, order.n_lanes, order.fold) / 128.0);
    return 1.0f / std::sqrt(mean + eps);
  };
  std::vector<int> differing(std::size(others), 0);
  for (const std::vector<float>& x : rows) {
    std::vector<float> out(128);
    ref::rmsnorm(x.data(), ones.data(), 128, eps, out.data());
    const float ref_scale = out[std::find(x.begin(), x.end(), kOne) - x.begin()];
    ASSERT_EQ(ref_scale, scale(x, documented));
    for (size_t k = 0; k < std::size(others); ++k) differing[k] += scale(x, others[k]) != ref_scale;
  }
  for (size_t k = 0; k < std::size(others); ++k) {
    EXPECT_GT(differing[k], 0) << others[k].name;
    std::printf("%s: differs on %d of %zu tie rows\n", others[k].name, differing[k], rows.size());
  }
}

TEST(RmsNorm, EveryIsaIsBitIdenticalToReference) {
  std::vector<std::vector<float>> rows = lane_order_rows();
  for (std::vector<float>& x : tie_rows()) rows.push_back(std::move(x));
  for (int64_t n : testing::simd_test_lengths()) {
    rows.push_back(random_floats(n, static_cast<uint32_t>(n), 3.0f));
  }
  // Zeros of both signs, tiny and huge values: the squares' f32 rounding and underflow.
  rows.push_back(
      testing::sprinkle(random_floats(333, 5), {0.0f, -0.0f, 1e-30f, -3e-20f, 1e15f}, 6));
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (const std::vector<float>& x : rows) {
      const auto n = static_cast<int64_t>(x.size());
      const std::vector<float> w = random_floats(n, 7);
      for (float eps : {1e-5f, 1e-6f}) {
        std::vector<float> expected(n), actual(n);
        ref::rmsnorm(x.data(), w.data(), n, eps, expected.data());
        rmsnorm(x.data(), w.data(), n, eps, actual.data());
        ASSERT_EQ(first_bit_difference(actual, expected), -1) << "n " << n << " eps " << eps;
      }
    }
  }
}

// In place (out == x), as the per-head q/k norms use it.
TEST(RmsNorm, InPlaceEqualsOutOfPlace) {
  for (int64_t n : {5, 64, 100}) {
    const std::vector<float> x = random_floats(n, 21, 2.0f);
    const std::vector<float> w = random_floats(n, 22);
    for (Isa isa : testing::supported_isas()) {
      ScopedIsa scoped(isa);
      std::vector<float> out(n), in_place = x;
      rmsnorm(x.data(), w.data(), n, 1e-6f, out.data());
      rmsnorm(in_place.data(), w.data(), n, 1e-6f, in_place.data());
      ASSERT_EQ(first_bit_difference(in_place, out), -1) << isa_name(isa) << " n " << n;
    }
  }
}

// Rows normalised inside one (n_rows, n) buffer, at unaligned addresses, equal each row
// normalised alone.
TEST(RmsNorm, RowDoesNotDependOnTheBatch) {
  for (int64_t n : {37, 4096 + 13}) {
    const int64_t n_rows = 5;
    const std::vector<float> batch = random_floats(n_rows * n, 11, 2.0f);
    const std::vector<float> w = random_floats(n, 12);
    for (Isa isa : testing::supported_isas()) {
      ScopedIsa scoped(isa);
      std::vector<float> out(n_rows * n);
      for (int64_t r = 0; r < n_rows; ++r) {
        rmsnorm(batch.data() + r * n, w.data(), n, 1e-5f, out.data() + r * n);
      }
      for (int64_t r = 0; r < n_rows; ++r) {
        const std::vector<float> row(batch.begin() + r * n, batch.begin() + (r + 1) * n);
        std::vector<float> alone(n);
        rmsnorm(row.data(), w.data(), n, 1e-5f, alone.data());
        const std::vector<float> in_batch(out.begin() + r * n, out.begin() + (r + 1) * n);
        ASSERT_EQ(first_bit_difference(in_batch, alone), -1) << isa_name(isa) << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace loom::kernels
