// quantize_row / dequantize_row: hand-computed blocks (rounding rules of ggml's reference
// quantizers), error bounds on random rows, and the activation quantizers of both
// instruction sets against ggml's activation rounding and each other.
#include "kernels/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::random_floats;

TEST(QuantizeQ8_0, HandComputedBlockRoundsHalvesAwayFromZero) {
  // amax = 127 gives d = 1 and id = 1 exactly, so q = roundf(x).
  float x[32] = {};
  x[0] = 127.0f;
  x[1] = 0.5f;         // -> 1 (half to even would give 0)
  x[2] = -0.5f;        // -> -1
  x[3] = 2.5f;         // -> 3
  x[4] = -2.5f;        // -> -3
  x[5] = 1.49f;        // -> 1
  x[6] = -126.6f;      // -> -127
  x[7] = 0.49999997f;  // just below a half -> 0
  BlockQ8_0 block;
  quantize_row(DType::Q8_0, x, &block, 32);
  EXPECT_EQ(block.d, 0x3c00);
  const int8_t expected[8] = {127, 1, -1, 3, -3, 1, -127, 0};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(block.qs[j], expected[j]) << j;
  for (int j = 8; j < 32; ++j) EXPECT_EQ(block.qs[j], 0) << j;

  float back[32];
  dequantize_row(DType::Q8_0, &block, back, 32);
  EXPECT_EQ(back[0], 127.0f);
  EXPECT_EQ(back[4], -3.0f);
}

TEST(QuantizeQ8_0, ZeroBlockHasZeroScale) {
  float x[32] = {};
  BlockQ8_0 block;
  std::memset(&block, 0xff, sizeof(block));
  quantize_row(DType::Q8_0, x, &block, 32);
  EXPECT_EQ(block.d, 0);
  for (int8_t q : block.qs) EXPECT_EQ(q, 0);
}

TEST(QuantizeQ4_0, HandComputedBlock) {
  // The largest magnitude is -8 (negative), so d = -8 / -8 = 1 and q = min(15, trunc(x + 8.5)).
  float x[32] = {};
  x[0] = -8.0f;   // -> 0
  x[1] = 7.0f;    // -> 15
  x[2] = 7.9f;    // 16.4 -> 16 -> clamped 15
  x[3] = -0.5f;   // 8.0 -> 8
  x[4] = -0.6f;   // 7.9 -> 7
  x[5] = 0.49f;   // 8.99 -> 8
  x[6] = 0.5f;    // 9.0 -> 9
  x[16] = 3.0f;   // 11.5 -> 11, high nibble of qs[0]
  x[17] = -3.0f;  // 5.5 -> 5, high nibble of qs[1]
  x[31] = 1.2f;   // 9.7 -> 9, high nibble of qs[15]
  BlockQ4_0 block;
  quantize_row(DType::Q4_0, x, &block, 32);
  EXPECT_EQ(block.d, 0x3c00);
  const uint8_t expected[16] = {0 | 11 << 4, 15 | 5 << 4, 15 | 8 << 4, 8 | 8 << 4,
                                7 | 8 << 4,  8 | 8 << 4,  9 | 8 << 4,  8 | 8 << 4,
                                8 | 8 << 4,  8 | 8 << 4,  8 | 8 << 4,  8 | 8 << 4,
                                8 | 8 << 4,  8 | 8 << 4,  8 | 8 << 4,  8 | 9 << 4};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(block.qs[j], expected[j]) << j;

  float back[32];
  dequantize_row(DType::Q4_0, &block, back, 32);
  EXPECT_EQ(back[0], -8.0f);
  EXPECT_EQ(back[1], 7.0f);
  EXPECT_EQ(back[4], -1.0f);
  EXPECT_EQ(back[16], 3.0f);
  EXPECT_EQ(back[17], -3.0f);
}

TEST(QuantizeQ4_0, FirstValueOfLargestMagnitudeSetsTheSign) {
  float x[32] = {};
  x[0] = 8.0f;  // first of the two magnitudes 8: d = 8 / -8 = -1
  x[5] = -8.0f;
  BlockQ4_0 block;
  quantize_row(DType::Q4_0, x, &block, 32);
  EXPECT_EQ(block.d, fp32_to_fp16(-1.0f));
  EXPECT_EQ(block.qs[0] & 0x0f, 0);   // 8 * -1 + 8.5 -> 0
  EXPECT_EQ(block.qs[5] & 0x0f, 15);  // -8 * -1 + 8.5 = 16.5 -> clamped 15
  EXPECT_EQ(block.qs[1] & 0x0f, 8);   // zero -> 8

  x[0] = -8.0f;
  x[5] = 8.0f;
  quantize_row(DType::Q4_0, x, &block, 32);
  EXPECT_EQ(block.d, fp32_to_fp16(1.0f));
  EXPECT_EQ(block.qs[0] & 0x0f, 0);
  EXPECT_EQ(block.qs[5] & 0x0f, 15);
}

struct RoundTripCase {
  DType type;
  double max_error_per_scale;  // bound on |x - x'| relative to the block's max |x|
};

class QuantizeRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(QuantizeRoundTrip, ErrorWithinHalfAStepOfTheBlock) {
  const RoundTripCase c = GetParam();
  const int64_t n = 32 * 97;
  std::vector<float> x = random_floats(n, 11, 2.0f);
  for (int64_t i = 0; i < n; i += 97) x[i] *= 40.0f;  // outliers in some blocks
  std::vector<uint8_t> q(row_bytes(c.type, n));
  std::vector<float> back(n);
  quantize_row(c.type, x.data(), q.data(), n);
  dequantize_row(c.type, q.data(), back.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    for (int j = 0; j < 32; ++j) {
      const int64_t i = b * 32 + j;
      ASSERT_LE(std::fabs(x[i] - back[i]), c.max_error_per_scale * amax) << "element " << i;
    }
  }
}

// Q8_0 step is amax/127: error <= half a step plus fp16 scale rounding. Q4_0 step is
// amax/8 with one-sided clamping at the top: error <= one step. F16/BF16: relative.
INSTANTIATE_TEST_SUITE_P(Types, QuantizeRoundTrip,
                         ::testing::Values(RoundTripCase{DType::Q8_0, 0.5 / 127 + 1e-3},
                                           RoundTripCase{DType::Q4_0, 1.0 / 8 + 1e-3},
                                           RoundTripCase{DType::F16, 1.0 / 1024},
                                           RoundTripCase{DType::BF16, 1.0 / 128},
                                           RoundTripCase{DType::F32, 0.0}),
                         [](const auto& info) { return std::string(dtype_name(info.param.type)); });

TEST(Quantize, FloatTypesMatchScalarConversions) {
  std::vector<float> x = random_floats(100, 3, 1000.0f);
  std::vector<uint16_t> h(100);
  quantize_row(DType::F16, x.data(), h.data(), 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(h[i], fp32_to_fp16(x[i]));
  quantize_row(DType::BF16, x.data(), h.data(), 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(h[i], fp32_to_bf16(x[i]));
}

TEST(Quantize, RejectsPartialBlocksAndUnsupportedTypes) {
  float x[64] = {};
  uint8_t out[128];
  EXPECT_THROW(quantize_row(DType::Q8_0, x, out, 33), Error);
  EXPECT_THROW(quantize_row(DType::Q2_K, x, out, 64), Error);
  EXPECT_THROW(dequantize_row(DType::Q5_0, out, x, 32), Error);
}

// Activation rows with every awkward case: exact halves after scaling, zero blocks,
// tiny and huge magnitudes, signed zeros.
std::vector<float> awkward_activations(int64_t n) {
  std::vector<float> x = random_floats(n, 5, 3.0f);
  for (int64_t b = 0; b < n / 32; ++b) {
    float* v = x.data() + b * 32;
    switch (b % 8) {
      case 0:  // amax 127: x * id lands exactly on halves
        v[0] = 127.0f;
        for (int j = 1; j < 32; ++j) v[j] = static_cast<float>(j * 4 - 62) + 0.5f;
        break;
      case 1:
        for (int j = 0; j < 32; ++j) v[j] = 0.0f;
        break;
      case 2:
        for (int j = 0; j < 32; ++j) v[j] *= 1e-30f;
        break;
      case 3:
        for (int j = 0; j < 32; ++j) v[j] *= 1e6f;
        break;
      case 4:
        v[3] = -0.0f;
        v[9] = -v[9] * 200.0f;
        break;
      case 5:  // amax 63.5: id = 2
        v[0] = -63.5f;
        for (int j = 1; j < 32; ++j) v[j] = static_cast<float>(j) * 0.25f - 3.75f;
        break;
      default:
        break;
    }
  }
  return x;
}

// Activation quantization is ggml's x86 quantize_row_q8_0 (what llama.cpp runs on
// activations): the scale d of quantize_row(Q8_0), but q = x * (127 / amax) rounded half
// to even. Recomputed here from that definition, element by element.
void expect_matches_ggml_activation_rounding(const std::vector<float>& x,
                                             const std::vector<int8_t>& q,
                                             const std::vector<float>& d,
                                             const std::vector<int32_t>& s) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<BlockQ8_0> blocks(n / 32);
  quantize_row(DType::Q8_0, x.data(), blocks.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    ASSERT_EQ(fp32_to_fp16(d[b]), blocks[b].d) << "block " << b;
    ASSERT_EQ(d[b], fp16_to_fp32(blocks[b].d)) << "block " << b;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      const auto expected = static_cast<int8_t>(std::nearbyint(x[b * 32 + j] * id));
      ASSERT_EQ(q[b * 32 + j], expected) << "block " << b << " element " << j;
      sum += expected;
    }
    ASSERT_EQ(s[b], sum) << "block " << b;
  }
}

// Ties go to even, unlike the weight quantizer's roundf.
TEST(ActivationQ8_0, HandComputedBlockRoundsHalvesToEven) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // id = 1
  const float in[] = {0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 3.5f, 126.5f};
  const int8_t expected[] = {0, 2, 2, -2, 0, 4, 126};
  const int8_t weight_rounding[] = {1, 2, 3, -3, -1, 4, 127};
  for (int i = 0; i < 7; ++i) x[1 + i] = in[i];
  BlockQ8_0 block;
  quantize_row(DType::Q8_0, x.data(), &block, 32);
  for (Isa isa : testing::supported_isas()) {
    std::vector<int8_t> q(32);
    float d = 0.0f;
    int32_t sum = 0;
    if (isa == Isa::kScalar) {
      detail::scalar::quantize_q8_0_activations(x.data(), 32, q.data(), &d, &sum);
    } else {
      detail::avx2::quantize_q8_0_activations(x.data(), 32, q.data(), &d, &sum);
    }
    EXPECT_EQ(d, 1.0f);
    EXPECT_EQ(q[0], 127);
    for (int i = 0; i < 7; ++i) {
      EXPECT_EQ(q[1 + i], expected[i]) << isa_name(isa) << " " << in[i];
      EXPECT_EQ(block.qs[1 + i], weight_rounding[i]) << in[i];
    }
  }
}

TEST(ActivationQ8_0, ScalarMatchesGgmlActivationRounding) {
  const int64_t n = 32 * 256;
  const std::vector<float> x = awkward_activations(n);
  std::vector<int8_t> q(n);
  std::vector<float> d(n / 32);
  std::vector<int32_t> s(n / 32);
  detail::scalar::quantize_q8_0_activations(x.data(), n, q.data(), d.data(), s.data());
  expect_matches_ggml_activation_rounding(x, q, d, s);
}

TEST(ActivationQ8_0, Avx2IsBitIdenticalToScalar) {
  if (!testing::have_avx2()) GTEST_SKIP() << "no AVX2";
  const int64_t n = 32 * 256;
  const std::vector<float> x = awkward_activations(n);
  std::vector<int8_t> q(n);
  std::vector<float> d(n / 32);
  std::vector<int32_t> s(n / 32);
  detail::avx2::quantize_q8_0_activations(x.data(), n, q.data(), d.data(), s.data());
  expect_matches_ggml_activation_rounding(x, q, d, s);
}

// Many random scales: the product x * id hits a half only rarely, so sweep a lot.
TEST(ActivationQ8_0, Avx2MatchesScalarOnManyRandomBlocks) {
  if (!testing::have_avx2()) GTEST_SKIP() << "no AVX2";
  const int64_t n = 32 * 20000;
  std::vector<float> x = random_floats(n, 9, 1.0f);
  std::mt19937 rng(1);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
    for (int j = 0; j < 32; ++j) {
      float& v = x[b * 32 + j];
      // Some values on a grid of halves of the block's step, to provoke ties.
      if (rng() % 4 == 0) v = std::round(v * 254.0f) / 254.0f * 2.0f;
      v *= scale;
    }
  }
  std::vector<int8_t> q1(n), q2(n);
  std::vector<float> d1(n / 32), d2(n / 32);
  std::vector<int32_t> s1(n / 32), s2(n / 32);
  detail::scalar::quantize_q8_0_activations(x.data(), n, q1.data(), d1.data(), s1.data());
  detail::avx2::quantize_q8_0_activations(x.data(), n, q2.data(), d2.data(), s2.data());
  EXPECT_EQ(q1, q2);
  EXPECT_EQ(std::memcmp(d1.data(), d2.data(), d1.size() * sizeof(float)), 0);
  EXPECT_EQ(s1, s2);
}

}  // namespace
}  // namespace loom::kernels
