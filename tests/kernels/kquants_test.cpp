// K-quants (Q4_K, Q5_K, Q6_K): dequantization bit for bit against the format definition,
// quantize -> dequantize error, dot products against Q8_K activations within the format's
// bound of the exact dot, AVX2 identical to scalar, and matmul's batch invariance.
#include "kernels/kquants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::random_floats;
using testing::ScopedIsa;

constexpr DType kKTypes[] = {DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::string name_of(const ::testing::TestParamInfo<DType>& info) {
  return std::string(dtype_name(info.param));
}

// Random blocks: every byte random except the fp16 scales, kept finite and moderate.
std::vector<uint8_t> random_blocks(DType type, int64_t nb, uint32_t seed) {
  const int64_t block_bytes = dtype_traits(type).block_bytes;
  std::vector<uint8_t> bytes(nb * block_bytes);
  std::mt19937 rng(seed);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.01f, 0.01f);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* block = bytes.data() + b * block_bytes;
    auto put = [&](size_t offset, float v) {
      const uint16_t h = fp32_to_fp16(v);
      std::memcpy(block + offset, &h, 2);
    };
    if (type == DType::Q6_K) {
      put(offsetof(BlockQ6_K, d), scale(rng));
    } else {
      put(0, scale(rng));
      put(2, std::fabs(scale(rng)));
    }
  }
  return bytes;
}

// The format definition, written per element: ggml's block_q4_K/q5_K/q6_K layouts.
float defined_value(DType type, const uint8_t* block, int e) {
  auto half = [&](size_t offset) {
    uint16_t h;
    std::memcpy(&h, block + offset, 2);
    return fp16_to_fp32(h);
  };
  if (type == DType::Q6_K) {
    const uint8_t* ql = block;
    const uint8_t* qh = block + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(block + 192);
    const int h = e / 128;  // 128-element half: ql[64h..], qh[32h..], sc[8h..]
    const int r = e % 128;
    const int l = r % 32;
    const int group = r / 32;  // 0: ql low, rows l; 1: ql low, l+32; 2: ql high; 3: high, l+32
    const uint8_t low_byte = ql[64 * h + l + (group % 2) * 32];
    const int low = group < 2 ? (low_byte & 0xF) : (low_byte >> 4);
    const int high = (qh[32 * h + l] >> (2 * group)) & 3;
    const int is = 8 * h + l / 16 + 2 * group;
    return half(208) * sc[is] * static_cast<float>((low | high << 4) - 32);
  }
  const uint8_t* scales = block + 4;
  const int j = e / 32;  // sub-block
  int sc, m;
  if (j < 4) {
    sc = scales[j] & 63;
    m = scales[j + 4] & 63;
  } else {
    sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
  const int l = e % 32;
  const uint8_t* qs = block + (type == DType::Q4_K ? 16 : 48);
  int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF;
  if (type == DType::Q5_K) q |= ((block[16 + l] >> j) & 1) << 4;
  return half(0) * static_cast<float>(sc) * static_cast<float>(q) - half(2) * static_cast<float>(m);
}

class KQuant : public ::testing::TestWithParam<DType> {};

TEST_P(KQuant, DequantizeMatchesTheFormatDefinitionBitForBit) {
  const DType type = GetParam();
  const int64_t nb = 6;
  const std::vector<uint8_t> bytes = random_blocks(type, nb, 11);
  std::vector<float> out(nb * kQK_K);
  dequantize_row(type, bytes.data(), out.data(), nb * kQK_K);
  const int64_t block_bytes = dtype_traits(type).block_bytes;
  for (int64_t b = 0; b < nb; ++b) {
    for (int e = 0; e < kQK_K; ++e) {
      const float want = defined_value(type, bytes.data() + b * block_bytes, e);
      ASSERT_EQ(std::memcmp(&out[b * kQK_K + e], &want, sizeof(float)), 0)
          << "block " << b << " element " << e << ": " << out[b * kQK_K + e] << " vs " << want;
    }
  }
}

TEST_P(KQuant, QuantizeRoundTripErrorIsWithinTheFormatsBound) {
  const DType type = GetParam();
  const int64_t n = 64 * kQK_K;
  std::vector<float> x = random_floats(n, 3, 0.02f);
  for (int64_t i = 0; i < n; ++i) x[i] *= 1.0f + static_cast<float>((i / 32) % 7);
  std::vector<uint8_t> q(row_bytes(type, n));
  quantize_row(type, x.data(), q.data(), n);
  std::vector<float> y(n);
  dequantize_row(type, q.data(), y.data(), n);
  double err2 = 0, ref2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    err2 += (y[i] - x[i]) * double(y[i] - x[i]);
    ref2 += x[i] * double(x[i]);
  }
  const double rel_rmse = std::sqrt(err2 / ref2);
  // ggml's quantize tests see about 0.09 (4 bits), 0.045 (5 bits), 0.022 (6 bits) on
  // Gaussian data; allow a margin.
  const double bound = type == DType::Q4_K ? 0.12 : type == DType::Q5_K ? 0.06 : 0.03;
  EXPECT_LT(rel_rmse, bound);
  EXPECT_GT(rel_rmse, 0.0);
  // Requantizing what was dequantized is a fixed point for the 6-bit symmetric format
  // only approximately; at least the scales must not blow up.
  for (float v : y) ASSERT_TRUE(std::isfinite(v));
}

TEST_P(KQuant, ZeroAndConstantBlocksQuantizeExactly) {
  const DType type = GetParam();
  std::vector<float> x(2 * kQK_K, 0.0f);
  for (int i = kQK_K; i < 2 * kQK_K; ++i) x[i] = -0.5f;
  std::vector<uint8_t> q(row_bytes(type, x.size()));
  quantize_row(type, x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(type, q.data(), y.data(), static_cast<int64_t>(x.size()));
  for (int i = 0; i < kQK_K; ++i) ASSERT_EQ(y[i], 0.0f) << i;
  for (int i = kQK_K; i < 2 * kQK_K; ++i) ASSERT_NEAR(y[i], -0.5f, 0.5f * 0.01f) << i;
}

struct Q8K {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sums;
};

Q8K quantize_activations(const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  Q8K a{std::vector<int8_t>(n), std::vector<float>(n / kQK_K), std::vector<int32_t>(n / 16)};
  detail::scalar::quantize_q8_k_activations(x.data(), n, a.q.data(), a.d.data(), a.sums.data());
  return a;
}

TEST(Q8K, ActivationsRoundToNearestWithinHalfAStep) {
  const std::vector<float> x = random_floats(4 * kQK_K, 9, 3.0f);
  const Q8K a = quantize_activations(x);
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = a.d[i / kQK_K];
    ASSERT_LE(std::fabs(d * a.q[i] - x[i]), std::fabs(d) * 0.5f * 1.0001f) << i;
  }
  for (size_t s = 0; s < a.sums.size(); ++s) {
    int32_t sum = 0;
    for (int l = 0; l < 16; ++l) sum += a.q[16 * s + l];
    ASSERT_EQ(a.sums[s], sum);
  }
}

// dot(w, Q8_K(x)) against the exact dot of the dequantized row with x in double: the
// only error is the activations' rounding (at most half a step per value) plus float
// rounding of the block sums.
TEST_P(KQuant, DotIsWithinTheActivationRoundingBoundOfTheExactDot) {
  const DType type = GetParam();
  const int64_t n = 16 * kQK_K;
  const std::vector<float> wf = random_floats(n, 21, 0.03f);
  std::vector<uint8_t> w(row_bytes(type, n));
  quantize_row(type, wf.data(), w.data(), n);
  std::vector<float> wd(n);
  dequantize_row(type, w.data(), wd.data(), n);
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<float> x = random_floats(n, seed, 1.0f);
    const Q8K a = quantize_activations(x);
    double exact = 0, bound = 0, magnitude = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += double(wd[i]) * x[i];
      bound += std::fabs(double(wd[i])) * std::fabs(a.d[i / kQK_K]) * 0.5;
      magnitude += std::fabs(double(wd[i]) * x[i]);
    }
    bound += 1e-5 * magnitude;
    const float scalar =
        detail::scalar::dot_k(type, w.data(), a.q.data(), a.d.data(), a.sums.data(), n);
    EXPECT_NEAR(scalar, exact, bound) << "seed " << seed;
    // The bound is loose; the typical error is far smaller.
    EXPECT_LT(std::fabs(scalar - exact), 0.05 * magnitude);
    if (testing::have_avx2()) {
      const float avx2 =
          detail::avx2::dot_k(type, w.data(), a.q.data(), a.d.data(), a.sums.data(), n);
      EXPECT_EQ(std::memcmp(&avx2, &scalar, sizeof(float)), 0) << avx2 << " vs " << scalar;
    }
  }
}

// Random block bytes reach every quant value and scale, including the extremes.
TEST_P(KQuant, Avx2DotEqualsScalarOnArbitraryBlocks) {
  if (!testing::have_avx2()) GTEST_SKIP() << "no AVX2";
  const DType type = GetParam();
  const int64_t nb = 8;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const std::vector<uint8_t> w = random_blocks(type, nb, 100 + seed);
    std::vector<float> x = random_floats(nb * kQK_K, 200 + seed, 2.0f);
    if (seed % 2) {
      for (float& v : x) v = v > 0 ? 1.0f : -1.0f;  // every quant at +-127
    }
    const Q8K a = quantize_activations(x);
    const float s =
        detail::scalar::dot_k(type, w.data(), a.q.data(), a.d.data(), a.sums.data(), nb * kQK_K);
    const float v =
        detail::avx2::dot_k(type, w.data(), a.q.data(), a.d.data(), a.sums.data(), nb * kQK_K);
    ASSERT_EQ(std::memcmp(&s, &v, sizeof(float)), 0) << "seed " << seed << ": " << v << " vs " << s;
  }
}

std::vector<float> run_matmul(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens,
                              ThreadPool& pool) {
  std::vector<float> y(n_tokens * w.rows);
  MatmulScratch scratch;
  matmul(w, x.data(), n_tokens, y.data(), pool, scratch);
  return y;
}

// Each output element is the same bits alone, in a batch, on 1 or 2 threads, and on
// either instruction set.
TEST_P(KQuant, MatmulIsBatchAndThreadInvariantAndMatchesTheDot) {
  const DType type = GetParam();
  const int64_t rows = 301;
  const int64_t cols = 2048;
  const std::vector<float> wf = random_floats(rows * cols, 5, 0.05f);
  std::vector<uint8_t> bytes(rows * row_bytes(type, cols));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, wf.data() + r * cols, bytes.data() + r * row_bytes(type, cols), cols);
  }
  WeightMatrix w{type, rows, cols, bytes.data()};
  w.packed = pack_weights(w);  // as the model loader does: the AVX-512 kernel reads it
  const int64_t n_tokens = 9;
  const std::vector<float> x = random_floats(n_tokens * cols, 8);
  ThreadPool one(1);
  ThreadPool two(2);
  std::vector<float> reference;
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(std::string(isa_name(isa)));
    ScopedIsa scoped(isa);
    const std::vector<float> batch = run_matmul(w, x, n_tokens, two);
    if (reference.empty()) reference = batch;
    EXPECT_EQ(batch, reference) << "instruction sets differ";
    EXPECT_EQ(run_matmul(w, x, n_tokens, one), batch) << "1 thread vs 2";
    for (int64_t t = 0; t < n_tokens; ++t) {
      const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
      const std::vector<float> single = run_matmul(w, xt, 1, two);
      ASSERT_EQ(std::memcmp(single.data(), batch.data() + t * rows, rows * sizeof(float)), 0)
          << "token " << t;
      const Q8K a = quantize_activations(xt);
      for (int64_t r = 0; r < rows; r += 37) {
        const float dot = detail::scalar::dot_k(type, bytes.data() + r * row_bytes(type, cols),
                                                a.q.data(), a.d.data(), a.sums.data(), cols);
        ASSERT_EQ(dot, single[r]) << "row " << r;
      }
    }
  }
}

// The packed AVX-512 kernel keeps the scalar dot_k's arithmetic (exact integer sums per
// super-block, then its float terms in super-block order): equal bits for every row count
// (full and partial panels), every token count (each tile width and remainder), on
// arbitrary blocks (every quant value, scale and min, including the extremes).
TEST_P(KQuant, PackedMatmulEqualsScalarBitForBit) {
  const DType type = GetParam();
  const int64_t cols = 2 * kQK_K;
  const int64_t nb = cols / kQK_K;
  ThreadPool pool(2);
  for (const int64_t rows : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{301}}) {
    const std::vector<uint8_t> bytes =
        random_blocks(type, rows * nb, 300 + static_cast<uint32_t>(rows));
    WeightMatrix w{type, rows, cols, bytes.data()};
    w.packed = pack_weights(w);
    ASSERT_NE(w.packed, nullptr);
    for (const int64_t tokens :
         {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{17}}) {
      std::vector<float> x = random_floats(tokens * cols, 40 + static_cast<uint32_t>(tokens), 2.0f);
      if (tokens % 2) {
        for (size_t i = 0; i < x.size(); i += 3) x[i] = x[i] > 0 ? 50.0f : -50.0f;  // +-127
      }
      std::vector<float> expected;
      {
        ScopedIsa scalar(Isa::kScalar);
        expected = run_matmul(w, x, tokens, pool);
      }
      for (Isa isa : testing::supported_isas()) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " rows " + std::to_string(rows) + " tokens " +
                     std::to_string(tokens));
        ScopedIsa scoped(isa);
        const std::vector<float> y = run_matmul(w, x, tokens, pool);
        ASSERT_EQ(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)), 0);
      }
    }
  }
}

// The panel layout read back element by element equals the format's definition.
TEST_P(KQuant, PackedLayoutHoldsEveryElement) {
  const DType type = GetParam();
  const int64_t rows = 19;
  const int64_t cols = kQK_K;
  const std::vector<uint8_t> bytes = random_blocks(type, rows, 77);
  const WeightMatrix w{type, rows, cols, bytes.data()};
  const auto packed = pack_weights(w);
  ASSERT_NE(packed, nullptr);
  EXPECT_EQ(packed->panels(), 2);
  EXPECT_EQ(packed->blocks, 1);
  const int64_t block_bytes = dtype_traits(type).block_bytes;
  for (int64_t r = 0; r < 32; ++r) {
    const uint8_t* rec = packed->panel(r / 16);
    const int i = static_cast<int>(r % 16);
    for (int e = 0; e < kQK_K; ++e) {
      // Reconstruct from the panel as kquants_packed.h lays it out.
      float value;
      auto half = [&](int64_t offset) {
        uint16_t h;
        std::memcpy(&h, rec + offset + 2 * i, 2);
        return fp16_to_fp32(h);
      };
      const int in32 = e % 32;
      const int c = in32 % 4;
      const int g = (in32 % 16) / 4;
      const bool high = in32 >= 16;
      if (type == DType::Q6_K) {
        const int k = e / 32;
        const uint8_t* group = rec + 320 + 384 * k;
        const int low = (group[64 * g + 4 * i + c] >> (high ? 4 : 0)) & 0xF;
        const int hb = (group[(high ? 320 : 256) + 4 * i + c] >> (2 * g)) & 3;
        const auto sc = static_cast<int8_t>(rec[64 + 16 * (e / 16) + i]);
        value = half(0) * sc * static_cast<float>((low | hb << 4) - 32);
      } else {
        const int j = e / 32;
        const int64_t sub_bytes = type == DType::Q5_K ? 320 : 256;
        const uint8_t* sub = rec + 320 + sub_bytes * j;
        int q = (sub[64 * g + 4 * i + c] >> (high ? 4 : 0)) & 0xF;
        if (type == DType::Q5_K) q |= ((sub[256 + 4 * i + c] >> (g + (high ? 4 : 0))) & 1) << 4;
        const int sc = rec[64 + 16 * j + i];
        const int m = rec[192 + 32 * (j / 2) + 2 * i + j % 2];
        value = half(0) * static_cast<float>(sc) * static_cast<float>(q) -
                half(32) * static_cast<float>(m);
      }
      if (r >= rows) {  // padding: all zero bytes
        ASSERT_EQ(value, 0.0f) << "row " << r << " element " << e;
        continue;
      }
      const float want = defined_value(type, bytes.data() + r * block_bytes, e);
      ASSERT_EQ(std::memcmp(&value, &want, sizeof(float)), 0)
          << "row " << r << " element " << e << ": " << value << " vs " << want;
    }
  }
  EXPECT_THROW(pack_weights(WeightMatrix{type, 2, 128, bytes.data()}), Error);
}

INSTANTIATE_TEST_SUITE_P(Types, KQuant, ::testing::ValuesIn(kKTypes), name_of);

}  // namespace
}  // namespace loom::kernels
