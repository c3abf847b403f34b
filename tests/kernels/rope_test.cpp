// rope_rotate and rope_rotate_neox: NeoX rotates halves (known angles), and every SIMD
// path is the scalar reference bit for bit, for every rotation width and whatever heads
// surround the one being rotated.
#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/isa.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::first_bit_difference;
using testing::random_floats;
using testing::ScopedIsa;

using Rotate = void (*)(float*, int64_t, const float*);

struct Pairing {
  const char* name;
  Rotate fast, reference;
};

const Pairing kPairings[] = {{"adjacent", rope_rotate, ref::rope_rotate},
                             {"neox", rope_rotate_neox, ref::rope_rotate_neox}};

// cos/sin pairs of the given angles.
std::vector<float> cos_sin_of(const std::vector<double>& angles) {
  std::vector<float> cs;
  for (double a : angles) {
    cs.push_back(static_cast<float>(std::cos(a)));
    cs.push_back(static_cast<float>(std::sin(a)));
  }
  return cs;
}

// n_rot 8 of a head of 10: pair i is (x[i], x[i + 4]), turned by angle i; x[8], x[9] stay.
TEST(RopeNeox, RotatesHalvesByKnownAngles) {
  const std::vector<double> angles = {0.3, 1.1, 2.0, -0.7};
  const std::vector<float> cs = cos_sin_of(angles);
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    rope_rotate_neox(x.data(), 8, cs.data());
    for (int i = 0; i < 4; ++i) {
      const double x0 = i + 1, x1 = i + 5;
      EXPECT_NEAR(x[i], x0 * std::cos(angles[i]) - x1 * std::sin(angles[i]), 1e-5) << i;
      EXPECT_NEAR(x[i + 4], x0 * std::sin(angles[i]) + x1 * std::cos(angles[i]), 1e-5) << i;
    }
    EXPECT_EQ(x[8], 9.0f);
    EXPECT_EQ(x[9], 10.0f);
  }
}

// With the angles of position 3 (base 10000, n_rot 4): theta_0 = 3, theta_1 = 0.03.
// (1, 1, 0, 0) as halves is two unit vectors along the first axis of their pair.
TEST(RopeNeox, AnglesOfAPositionTurnEachPair) {
  std::vector<float> cs(4);
  rope_angles(RopeParams{.n_rot = 4, .freq_base = 10000.0f}, 3, cs.data());
  std::vector<float> x = {1.0f, 1.0f, 0.0f, 0.0f};
  rope_rotate_neox(x.data(), 4, cs.data());
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[2], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[1], std::cos(0.03), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.03), 1e-6);
}

// Turning only pair 0 moves x[0] and x[half] under NeoX, x[0] and x[1] otherwise.
TEST(RopeNeox, PairsElementsHalfAHeadApart) {
  std::vector<double> angles(8, 0.0);
  angles[0] = 0.5;
  const std::vector<float> cs = cos_sin_of(angles);
  const std::vector<float> x = random_floats(16, 3);
  std::vector<float> neox = x, adjacent = x;
  rope_rotate_neox(neox.data(), 16, cs.data());
  rope_rotate(adjacent.data(), 16, cs.data());
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(neox[i] != x[i], i == 0 || i == 8) << i;
    EXPECT_EQ(adjacent[i] != x[i], i == 0 || i == 1) << i;
  }
}

// Every rotation width up to 256 (odd ones too: the last element is then left alone),
// inside a head with 5 more elements that must stay as they are. The cos/sin values are
// arbitrary floats, not unit pairs, so that a swapped cos and sin would show.
TEST(Rope, EveryIsaIsBitIdenticalToReference) {
  std::vector<int64_t> widths;
  for (int64_t n_rot = 1; n_rot <= 256; ++n_rot) widths.push_back(n_rot);
  widths.push_back(512);
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (const Pairing& pairing : kPairings) {
      for (int64_t n_rot : widths) {
        const auto seed = static_cast<uint32_t>(n_rot);
        const std::vector<float> x = random_floats(n_rot + 5, seed, 3.0f);
        const std::vector<float> cs = random_floats(n_rot, seed + 1000);
        std::vector<float> expected = x, actual = x;
        pairing.reference(expected.data(), n_rot, cs.data());
        pairing.fast(actual.data(), n_rot, cs.data());
        ASSERT_EQ(first_bit_difference(actual, expected), -1) << pairing.name << " n_rot " << n_rot;
      }
    }
  }
}

// The heads of a token in one (n_head, head_dim) buffer, each rotated in place at an
// unaligned address, equal each head rotated alone.
TEST(Rope, HeadDoesNotDependOnTheOtherHeads) {
  const int64_t n_head = 7, head_dim = 80, n_rot = 64;
  const std::vector<float> heads = random_floats(n_head * head_dim + 3, 41);
  std::vector<float> cs(n_rot);
  rope_angles(RopeParams{.n_rot = n_rot, .freq_base = 10000.0f}, 1234, cs.data());
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa scoped(isa);
    for (const Pairing& pairing : kPairings) {
      std::vector<float> all = heads;
      for (int64_t h = 0; h < n_head; ++h)
        pairing.fast(all.data() + 3 + h * head_dim, n_rot, cs.data());
      for (int64_t h = 0; h < n_head; ++h) {
        const auto begin = heads.begin() + 3 + h * head_dim;
        std::vector<float> alone(begin, begin + head_dim);
        pairing.fast(alone.data(), n_rot, cs.data());
        const auto done = all.begin() + 3 + h * head_dim;
        ASSERT_EQ(first_bit_difference(std::vector<float>(done, done + head_dim), alone), -1)
            << pairing.name << " head " << h;
      }
    }
  }
}

// Frequency factors divide each pair's angle and linear scaling multiplies it; both are
// exact no-ops at 1, so plain RoPE keeps its bits.
TEST(RopeAngles, FrequencyFactorsAndLinearScalingFollowTheirDefinition) {
  const int64_t n_rot = 16;
  const std::vector<float> factors = {1.0f, 2.442f, 8.0f, 8.0f, 8.0f, 8.0f, 8.0f, 8.0f};
  for (int64_t pos : {0, 1, 37, 255}) {
    RopeParams plain{.n_rot = n_rot, .freq_base = 500000.0f};
    RopeParams scaled = plain;
    scaled.freq_factors = factors.data();
    scaled.freq_scale = 0.125f;
    std::vector<float> a(n_rot), b(n_rot);
    rope_angles(plain, pos, a.data());
    rope_angles(scaled, pos, b.data());
    for (int64_t i = 0; i < n_rot / 2; ++i) {
      const double theta = static_cast<double>(pos) * std::pow(500000.0, -2.0 * i / n_rot);
      EXPECT_NEAR(a[2 * i], std::cos(theta), 1e-5) << pos << " " << i;
      const double scaled_theta = 0.125 * theta / factors[i];
      EXPECT_NEAR(b[2 * i], std::cos(scaled_theta), 1e-5) << pos << " " << i;
      EXPECT_NEAR(b[2 * i + 1], std::sin(scaled_theta), 1e-5) << pos << " " << i;
    }
  }
  // With factors of 1 and no scaling the angles are the plain ones bit for bit.
  const std::vector<float> ones(8, 1.0f);
  RopeParams with_ones{.n_rot = n_rot, .freq_base = 10000.0f, .freq_factors = ones.data()};
  std::vector<float> a(n_rot), b(n_rot);
  rope_angles(RopeParams{.n_rot = n_rot, .freq_base = 10000.0f}, 1234, a.data());
  rope_angles(with_ones, 1234, b.data());
  EXPECT_EQ(a, b);
}

// YaRN: dimensions below the correction range keep their (extrapolated) angle, those above
// it are interpolated by freq_scale, a ramp mixes the two between, and the magnitude is
// attn_factor * (1 + 0.1 ln(1 / freq_scale)) (ggml's rope_yarn).
TEST(RopeAngles, YarnMixesExtrapolationAndInterpolationByDimension) {
  const int64_t n_rot = 64;
  const float base = 1e6f;
  const float scale = 0.25f;
  float low = 0, high = 0;
  yarn_corr_dims(n_rot, 4096, base, 32.0f, 1.0f, &low, &high);
  // ggml_rope_yarn_corr_dim in double.
  auto corr_dim = [&](double rotations) {
    return n_rot * std::log(4096.0 / (rotations * 2 * M_PI)) /
           (2 * std::log(static_cast<double>(base)));
  };
  EXPECT_EQ(low, std::max(0.0, std::floor(corr_dim(32.0))));
  EXPECT_EQ(high, std::min(n_rot - 1.0, std::ceil(corr_dim(1.0))));
  ASSERT_LT(low, high);

  RopeParams p{.n_rot = n_rot,
               .freq_base = base,
               .freq_scale = scale,
               .ext_factor = 1.0f,
               .attn_factor = 0.9f,
               .corr_low = low,
               .corr_high = high};
  const int64_t pos = 3000;
  std::vector<float> angles(n_rot);
  rope_angles(p, pos, angles.data());
  const double mscale = 0.9 * (1.0 + 0.1 * std::log(1.0 / scale));
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const double extrap = pos * std::pow(static_cast<double>(base), -2.0 * i / n_rot);
    const double y = (i - low) / std::max(0.001, static_cast<double>(high - low));
    const double ramp = 1.0 - std::min(1.0, std::max(0.0, y));
    const double theta = scale * extrap * (1.0 - ramp) + extrap * ramp;
    EXPECT_NEAR(angles[2 * i], std::cos(theta) * mscale, 2e-4) << i;
    EXPECT_NEAR(angles[2 * i + 1], std::sin(theta) * mscale, 2e-4) << i;
  }
}

}  // namespace
}  // namespace loom::kernels
