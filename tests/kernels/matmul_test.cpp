// matmul against a double-precision reference on dequantized rows, for every weight type
// and both instruction sets; and the batch-invariance contract: an output element is the
// same bits whatever the batch, the thread count or the instruction set's tile shapes.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quantize.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

using testing::random_floats;
using testing::ScopedIsa;

// A weight matrix of random values stored in `type`, with its dequantized copy.
struct TestMatrix {
  TestMatrix(DType type, int64_t rows, int64_t cols, uint32_t seed)
      : bytes(static_cast<size_t>(rows * row_bytes(type, cols))), values(rows * cols) {
    std::vector<float> f = random_floats(rows * cols, seed, 0.05f);
    // Vary magnitudes between blocks, as real weights do.
    for (int64_t i = 0; i < rows * cols; ++i) f[i] *= 1.0f + static_cast<float>((i / 32) % 5);
    const int64_t stride = row_bytes(type, cols);
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(type, f.data() + r * cols, bytes.data() + r * stride, cols);
      dequantize_row(type, bytes.data() + r * stride, values.data() + r * cols, cols);
    }
    w = WeightMatrix{type, rows, cols, bytes.data()};
    w.packed = pack_weights(w);  // as the model loader does: the SIMD kernels read it
  }
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // (rows, cols)
  WeightMatrix w;
};

// The activations as the dot product sees them: rounded to the weight type's partner.
std::vector<float> partner_values(DType type, const std::vector<float>& x, int64_t cols) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> out(n);
  if (type == DType::Q8_0 || type == DType::Q4_0) {
    std::vector<int8_t> q(n);
    std::vector<float> d(n / 32);
    std::vector<int32_t> sums(n / 32);
    detail::scalar::quantize_q8_0_activations(x.data(), n, q.data(), d.data(), sums.data());
    for (int64_t i = 0; i < n; ++i) out[i] = d[i / 32] * static_cast<float>(q[i]);
  } else {
    std::vector<uint8_t> q(row_bytes(type, n));
    quantize_row(type, x.data(), q.data(), n);
    dequantize_row(type, q.data(), out.data(), n);
  }
  return out;
}

std::vector<float> run_matmul(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens,
                              ThreadPool& pool) {
  std::vector<float> y(static_cast<size_t>(n_tokens * w.rows), NAN);
  MatmulScratch scratch;
  matmul(w, x.data(), n_tokens, y.data(), pool, scratch);
  return y;
}

struct Shape {
  DType type;
  int64_t rows;
  int64_t cols;
  int64_t tokens;
};

std::string shape_name(const ::testing::TestParamInfo<Shape>& info) {
  const Shape& s = info.param;
  return std::string(dtype_name(s.type)) + "_" + std::to_string(s.rows) + "x" +
         std::to_string(s.cols) + "_t" + std::to_string(s.tokens);
}

std::vector<Shape> reference_shapes() {
  std::vector<Shape> shapes;
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    const bool quantized = type == DType::Q8_0 || type == DType::Q4_0;
    shapes.push_back({type, 1, 32, 1});
    shapes.push_back({type, 7, 64, 3});
    shapes.push_back({type, 13, 4096, 1});
    shapes.push_back({type, 37, 288, 9});
    shapes.push_back({type, 130, 1024, 5});
    shapes.push_back({type, 3, 96, 8});
    if (!quantized) {  // columns that do not fill a vector
      shapes.push_back({type, 11, 172, 4});
      shapes.push_back({type, 5, 7, 2});
      shapes.push_back({type, 9, 33, 6});
    }
  }
  return shapes;
}

class MatmulReference : public ::testing::TestWithParam<Shape> {};

// Both instruction sets against sum_i w[i] x[i] in double on the dequantized weights and
// partner-rounded activations. Bound: f32 accumulation over at most cols / 8 + 8 steps
// per lane, relative to sum_i |w[i] x[i]|.
TEST_P(MatmulReference, MatchesDoublePrecisionDotOfDequantizedRows) {
  const Shape s = GetParam();
  const TestMatrix m(s.type, s.rows, s.cols, 17);
  const std::vector<float> x = random_floats(s.tokens * s.cols, 23);
  const std::vector<float> xp = partner_values(s.type, x, s.cols);
  ThreadPool pool(2);
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(std::string(isa_name(isa)));
    ScopedIsa scoped(isa);
    const std::vector<float> y = run_matmul(m.w, x, s.tokens, pool);
    for (int64_t t = 0; t < s.tokens; ++t) {
      for (int64_t r = 0; r < s.rows; ++r) {
        double dot = 0.0;
        double abs_sum = 0.0;
        for (int64_t k = 0; k < s.cols; ++k) {
          const double p = static_cast<double>(m.values[r * s.cols + k]) * xp[t * s.cols + k];
          dot += p;
          abs_sum += std::fabs(p);
        }
        const double bound = (static_cast<double>(s.cols) / 8 + 8) * 6e-8 * abs_sum + 1e-30;
        ASSERT_NEAR(y[t * s.rows + r], dot, bound) << "token " << t << " row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulReference, ::testing::ValuesIn(reference_shapes()),
                         shape_name);

class MatmulInvariance : public ::testing::TestWithParam<DType> {};

// Every token of a 9-token batch must equal, bit for bit, the same token alone, in a
// batch of 8 at another offset, and under 1 and 2 threads, for both instruction sets.
TEST_P(MatmulInvariance, OutputDoesNotDependOnBatchOrThreads) {
  const DType type = GetParam();
  const bool quantized = dtype_traits(type).block_size > 1;
  ThreadPool one(1);
  ThreadPool two(2);
  for (const int64_t cols : {quantized ? int64_t{256} : int64_t{172}, int64_t{2048}}) {
    // 301 rows: not a multiple of any tile height, big enough to be split over threads
    // even for one token.
    const TestMatrix m(type, 301, cols, 5);
    const int64_t n_tokens = 9;
    const std::vector<float> x = random_floats(n_tokens * cols, 8);
    for (Isa isa : testing::supported_isas()) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " cols " + std::to_string(cols));
      ScopedIsa scoped(isa);
      const std::vector<float> batch = run_matmul(m.w, x, n_tokens, two);
      EXPECT_EQ(run_matmul(m.w, x, n_tokens, one), batch) << "1 thread vs 2";
      for (int64_t t = 0; t < n_tokens; ++t) {
        const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
        const std::vector<float> single = run_matmul(m.w, xt, 1, two);
        ASSERT_EQ(std::memcmp(single.data(), batch.data() + t * m.w.rows, m.w.rows * sizeof(float)),
                  0)
            << "token " << t << " alone differs from the batch";
        ASSERT_EQ(run_matmul(m.w, xt, 1, one), single) << "token " << t << " on 1 thread";
      }
      // Tokens 1..8 as a batch of 8: token t sits at another place in the tiles.
      const std::vector<float> x8(x.begin() + cols, x.end());
      const std::vector<float> batch8 = run_matmul(m.w, x8, 8, two);
      EXPECT_EQ(std::memcmp(batch8.data(), batch.data() + m.w.rows, batch8.size() * sizeof(float)),
                0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulInvariance,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0,
                                           DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Blocks a file may hold but our quantizer never writes: Q8_0 quants of -128, every
// nibble, against activations at +-127 (the largest products maddubs must not saturate).
TEST(Matmul, ExtremeQuantizedBlocksMatchReference) {
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    const int64_t rows = 9;
    const int64_t cols = 256;
    const int64_t stride = row_bytes(type, cols);
    std::vector<uint8_t> bytes(rows * stride);
    std::mt19937 rng(3);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    const int64_t block_bytes = type == DType::Q8_0 ? 34 : 18;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < cols / 32; ++b) {
        uint8_t* block = bytes.data() + r * stride + b * block_bytes;
        const uint16_t d = fp32_to_fp16(0.01f * static_cast<float>(1 + (r + b) % 7));
        std::memcpy(block, &d, 2);
        if (r == 0) std::memset(block + 2, type == DType::Q8_0 ? 0x80 : 0x00, block_bytes - 2);
        if (r == 1) std::memset(block + 2, type == DType::Q8_0 ? 0x7f : 0xff, block_bytes - 2);
      }
    }
    WeightMatrix w{type, rows, cols, bytes.data()};
    w.packed = pack_weights(w);
    std::vector<float> x(2 * cols);
    for (int64_t i = 0; i < cols; ++i) x[i] = 1.0f;                                // all +127
    for (int64_t i = cols; i < 2 * cols; ++i) x[i] = (i % 2 == 0) ? 1.0f : -1.0f;  // +-127
    const std::vector<float> xp = partner_values(type, x, cols);
    std::vector<float> wf(rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(type, bytes.data() + r * stride, wf.data() + r * cols, cols);
    }
    ThreadPool pool(2);
    for (Isa isa : testing::supported_isas()) {
      SCOPED_TRACE(std::string(dtype_name(type)) + " " + std::string(isa_name(isa)));
      ScopedIsa scoped(isa);
      const std::vector<float> y = run_matmul(w, x, 2, pool);
      for (int64_t t = 0; t < 2; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          double dot = 0.0;
          double abs_sum = 0.0;
          for (int64_t k = 0; k < cols; ++k) {
            const double p = static_cast<double>(wf[r * cols + k]) * xp[t * cols + k];
            dot += p;
            abs_sum += std::fabs(p);
          }
          ASSERT_NEAR(y[t * rows + r], dot, 1e-6 * abs_sum) << "token " << t << " row " << r;
        }
      }
    }
  }
}

// Q4_0 and Q8_0 each have one arithmetic on every path (Q4_0: exact integer block sums,
// then fma(d_w * d_x, sum, acc) block after block; Q8_0: the reference engine's 8 lanes
// of 4-element sums, see scalar::dot_q8_0). The SIMD kernels, packed or row-major, must
// give the scalar reference's bits for every row count (full and partial panels) and
// token count (every tile width and remainder).
TEST(Matmul, PackedKernelsEqualScalarBitForBit) {
  ThreadPool pool(2);
  for (DType type : {DType::Q4_0, DType::Q8_0}) {
    for (const int64_t rows : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{301}}) {
      const TestMatrix m(type, rows, 320, static_cast<uint32_t>(rows));
      ASSERT_NE(m.w.packed, nullptr);
      for (const int64_t tokens :
           {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{8}, int64_t{9}, int64_t{17}}) {
        const std::vector<float> x =
            random_floats(tokens * 320, 40 + static_cast<uint32_t>(tokens));
        std::vector<float> expected;
        {
          ScopedIsa scalar(Isa::kScalar);
          expected = run_matmul(m.w, x, tokens, pool);
        }
        for (Isa isa : testing::supported_isas()) {
          SCOPED_TRACE(std::string(dtype_name(type)) + " " + std::string(isa_name(isa)) + " rows " +
                       std::to_string(rows) + " tokens " + std::to_string(tokens));
          ScopedIsa scoped(isa);
          const std::vector<float> y = run_matmul(m.w, x, tokens, pool);
          ASSERT_EQ(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)), 0);
        }
      }
    }
  }
}

// Float weights have one order on every path: rows of 16k elements in one 16-lane FMA
// accumulator per element reduced halves-quarters-pairs (AVX-512 and AVX2 tiles), ragged
// rows in the reference engine's order. Equal bits for every row count (each tile height
// and remainder) and token count (each tile width and remainder).
TEST(Matmul, FloatKernelsEqualScalarBitForBit) {
  ThreadPool pool(2);
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    for (const int64_t cols : {int64_t{320}, int64_t{172}}) {
      for (const int64_t rows :
           {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{5}, int64_t{17}, int64_t{301}}) {
        const TestMatrix m(type, rows, cols, static_cast<uint32_t>(rows));
        for (const int64_t tokens : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, int64_t{7},
                                     int64_t{8}, int64_t{9}, int64_t{17}}) {
          const std::vector<float> x =
              random_floats(tokens * cols, 60 + static_cast<uint32_t>(tokens));
          std::vector<float> expected;
          {
            ScopedIsa scalar(Isa::kScalar);
            expected = run_matmul(m.w, x, tokens, pool);
          }
          for (Isa isa : testing::supported_isas()) {
            SCOPED_TRACE(std::string(dtype_name(type)) + " " + std::string(isa_name(isa)) +
                         " cols " + std::to_string(cols) + " rows " + std::to_string(rows) +
                         " tokens " + std::to_string(tokens));
            ScopedIsa scoped(isa);
            const std::vector<float> y = run_matmul(m.w, x, tokens, pool);
            ASSERT_EQ(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)), 0);
          }
        }
      }
    }
  }
}

TEST(PackWeights, LaysOutSixteenRowPanels) {
  const TestMatrix m(DType::Q4_0, 17, 64, 9);
  const PackedWeights& p = *m.w.packed;
  EXPECT_EQ(p.panels(), 2);
  EXPECT_EQ(p.blocks, 2);
  EXPECT_EQ(p.panel_bytes % 64, 0);
  // Row 16 is the first row of panel 1; rows 17..31 of that panel are zero padding.
  const auto* row16 = m.bytes.data() + 16 * row_bytes(DType::Q4_0, 64);
  const uint8_t* panel = p.panel(1);
  EXPECT_EQ(std::memcmp(panel, row16, 2), 0);                      // block 0's scale of row 16
  EXPECT_EQ(std::memcmp(panel + p.scale_bytes, row16 + 2, 4), 0);  // quants 0..3 (nibbles)
  EXPECT_EQ(panel[p.scale_bytes + 4], 0);                          // row 17: padding
  EXPECT_EQ(pack_weights(WeightMatrix{DType::F16, 2, 32, m.bytes.data()}), nullptr);
  EXPECT_THROW(pack_weights(WeightMatrix{DType::Q8_0, 2, 48, m.bytes.data()}), Error);
}

TEST(Matmul, ScratchIsReusedAcrossCallsOfDifferentSizes) {
  const TestMatrix big(DType::Q4_0, 64, 1024, 1);
  const TestMatrix small(DType::F16, 16, 96, 2);
  ThreadPool pool(2);
  MatmulScratch scratch;
  const std::vector<float> x = random_floats(4 * 1024, 3);
  std::vector<float> y(4 * 64);
  matmul(big.w, x.data(), 4, y.data(), pool, scratch);
  const uint8_t* buffer = scratch.activations.data();
  const size_t size = scratch.activations.size();
  matmul(small.w, x.data(), 2, y.data(), pool, scratch);
  matmul(big.w, x.data(), 1, y.data(), pool, scratch);
  EXPECT_EQ(scratch.activations.data(), buffer);
  EXPECT_EQ(scratch.activations.size(), size);
  EXPECT_EQ(run_matmul(big.w, x, 4, pool), [&] {
    matmul(big.w, x.data(), 4, y.data(), pool, scratch);
    return y;
  }());
}

TEST(Matmul, RejectsUnsupportedAndMalformedMatrices) {
  ThreadPool pool(1);
  MatmulScratch scratch;
  std::vector<uint8_t> data(4096);
  std::vector<float> x(256), y(256);
  EXPECT_THROW(matmul({DType::Q2_K, 2, 256, data.data()}, x.data(), 1, y.data(), pool, scratch),
               Error);
  EXPECT_THROW(matmul({DType::Q8_0, 2, 48, data.data()}, x.data(), 1, y.data(), pool, scratch),
               Error);
  EXPECT_THROW(matmul({DType::F32, 2, 8, nullptr}, x.data(), 1, y.data(), pool, scratch), Error);
}

TEST(GetRow, DequantizesOneRow) {
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    const TestMatrix m(type, 10, 64, 4);
    std::vector<float> row(64);
    get_row(m.w, 7, row.data());
    for (int k = 0; k < 64; ++k) ASSERT_EQ(row[k], m.values[7 * 64 + k]) << dtype_name(type);
    EXPECT_THROW(get_row(m.w, 10, row.data()), Error);
    EXPECT_THROW(get_row(m.w, -1, row.data()), Error);
  }
}

}  // namespace
}  // namespace loom::kernels
