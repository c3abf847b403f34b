// core/fp16.h against known bit patterns and exhaustive round trips, and the F16C/AVX2
// conversions the matmul activations use against the scalar ones.
#include "core/fp16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/matmul_kernels.h"
#include "test_util.h"

namespace loom {
namespace {

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

TEST(Fp16, KnownHalvesWiden) {
  EXPECT_EQ(fp16_to_fp32(0x0000), 0.0f);
  EXPECT_EQ(bits(fp16_to_fp32(0x8000)), 0x80000000u);  // -0
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
}

TEST(Fp16, KnownFloatsNarrowRoundingToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // halfway to 65536 ties to even: inf
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, down to even
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, up to even
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);             // half the smallest: to 0
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);             // above half: rounds up
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);             // 1.5 subnormal ulps: even
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.5f, -24)), 0x0400);          // rounds into the normals
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
}

TEST(Fp16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      const uint16_t back = fp32_to_fp16(f);
      EXPECT_TRUE((back & 0x7c00) == 0x7c00 && (back & 0x3ff) != 0) << h;
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << "half 0x" << std::hex << h;
  }
}

// The midpoint between two adjacent halves must go to the even one; a hair either side
// must go to the nearer one.
TEST(Fp16, EveryMidpointTiesToEven) {
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double lo = fp16_to_fp32(static_cast<uint16_t>(h));
    const double hi = fp16_to_fp32(static_cast<uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact in f32
    const uint16_t even = (h & 1) == 0 ? h : h + 1;
    ASSERT_EQ(fp32_to_fp16(mid), even) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, 1e9f)), h + 1) << h;
  }
}

TEST(Bf16, KnownValues) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_fp32(0xc040), -3.0f);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, to even
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, to even
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::bit_cast<float>(0x7f800001u)))));
}

TEST(Bf16, EveryBf16RoundTrips) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_bf16(f), b) << b;
  }
}

// Float bit patterns that stress rounding: random, plus every half and its neighbours.
std::vector<float> rounding_probe() {
  std::vector<float> v;
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnan(f)) v.push_back(f);
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f) || std::isinf(f)) continue;
    v.push_back(f);
    v.push_back(std::nextafter(f, 1e30f));
    v.push_back(std::nextafter(f, -1e30f));
  }
  return v;
}

TEST(Fp16, F16cRoundingMatchesScalar) {
  if (!kernels::testing::have_avx2()) GTEST_SKIP() << "no AVX2";
  const std::vector<float> in = rounding_probe();
  std::vector<float> simd(in.size());
  std::vector<float> scalar(in.size());
  kernels::detail::avx2::round_activations(DType::F16, in.data(), static_cast<int64_t>(in.size()),
                                           simd.data());
  kernels::detail::scalar::round_activations(DType::F16, in.data(), static_cast<int64_t>(in.size()),
                                             scalar.data());
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(bits(simd[i]), bits(scalar[i])) << "input bits 0x" << std::hex << bits(in[i]);
  }
}

TEST(Bf16, SimdRoundingMatchesScalar) {
  if (!kernels::testing::have_avx2()) GTEST_SKIP() << "no AVX2";
  std::vector<float> in = rounding_probe();
  in.push_back(std::bit_cast<float>(0x7f800001u));  // signalling NaN
  in.push_back(std::bit_cast<float>(0xffc12345u));  // negative quiet NaN
  std::vector<float> simd(in.size());
  std::vector<float> scalar(in.size());
  kernels::detail::avx2::round_activations(DType::BF16, in.data(), static_cast<int64_t>(in.size()),
                                           simd.data());
  kernels::detail::scalar::round_activations(DType::BF16, in.data(),
                                             static_cast<int64_t>(in.size()), scalar.data());
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(bits(simd[i]), bits(scalar[i])) << "input bits 0x" << std::hex << bits(in[i]);
  }
}

}  // namespace
}  // namespace loom
