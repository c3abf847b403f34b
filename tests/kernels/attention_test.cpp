// Attention: the AVX2 path is bit-identical to the scalar reference, both agree with a
// plain softmax-weighted sum computed in double (within the F16 cache's rounding), and
// rows scattered over the paged cache's blocks give exactly what contiguous rows give.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/isa.h"
#include "kernels/quantize.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

struct Case {
  int64_t head_dim, n_kv, n_head_kv;
  DType type;
};

struct Data {
  std::vector<float> q;
  std::vector<uint8_t> keys, values;  // (n_kv, n_head_kv * head_dim) of type
  std::vector<float> key_f, value_f;  // the same, as the kernel reads them (f32)
  std::vector<int32_t> blocks{0};     // one block holding every row
  KvView view;
};

Data make(const Case& c, int64_t head, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data d;
  const int64_t row = c.n_head_kv * c.head_dim;
  const int64_t bytes = row_bytes(c.type, row);
  d.q.resize(c.head_dim);
  for (float& x : d.q) x = normal(rng);
  d.keys.resize(c.n_kv * bytes);
  d.values.resize(c.n_kv * bytes);
  d.key_f.resize(c.n_kv * row);
  d.value_f.resize(c.n_kv * row);
  std::vector<float> k(row), v(row);
  for (int64_t j = 0; j < c.n_kv; ++j) {
    for (int64_t i = 0; i < row; ++i) k[i] = normal(rng), v[i] = normal(rng);
    quantize_row(c.type, k.data(), d.keys.data() + j * bytes, row);
    quantize_row(c.type, v.data(), d.values.data() + j * bytes, row);
    dequantize_row(c.type, d.keys.data() + j * bytes, d.key_f.data() + j * row, row);
    dequantize_row(c.type, d.values.data() + j * bytes, d.value_f.data() + j * row, row);
  }
  d.view.keys = d.keys.data();
  d.view.values = d.values.data();
  d.view.blocks = d.blocks.data();
  d.view.block_size = c.n_kv;
  d.view.block_stride = 0;
  d.view.type = c.type;
  d.view.row_stride = row;
  d.view.offset = head * c.head_dim;
  return d;
}

// The same rows scattered over a pool of blocks of `block_size` positions, in a shuffled
// order with unused blocks between them, as the paged KV cache holds them.
struct Paged {
  std::vector<uint8_t> keys, values;
  std::vector<int32_t> blocks;
  KvView view;
};

Paged page(const Data& d, int64_t n_kv, int64_t block_size, uint32_t seed) {
  const int64_t bytes = row_bytes(d.view.type, d.view.row_stride);
  const int64_t n_blocks = (n_kv + block_size - 1) / block_size;
  const int64_t pool_blocks = 2 * n_blocks + 3;
  std::vector<int32_t> ids(pool_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  Paged p;
  p.blocks.assign(ids.begin(), ids.begin() + n_blocks);
  const int64_t stride = block_size * bytes;
  p.keys.assign(pool_blocks * stride, 0xAB);  // garbage where no row is
  p.values.assign(pool_blocks * stride, 0xCD);
  for (int64_t j = 0; j < n_kv; ++j) {
    const int64_t at = p.blocks[j / block_size] * stride + (j % block_size) * bytes;
    std::memcpy(p.keys.data() + at, d.keys.data() + j * bytes, bytes);
    std::memcpy(p.values.data() + at, d.values.data() + j * bytes, bytes);
  }
  p.view = d.view;
  p.view.keys = p.keys.data();
  p.view.values = p.values.data();
  p.view.blocks = p.blocks.data();
  p.view.block_size = block_size;
  p.view.block_stride = stride;
  return p;
}

std::vector<double> naive(const Data& d, int64_t n_kv, int64_t head_dim, float scale) {
  std::vector<double> scores(n_kv), out(head_dim, 0.0);
  double max_score = -INFINITY, sum = 0;
  for (int64_t j = 0; j < n_kv; ++j) {
    double dot = 0;
    for (int64_t e = 0; e < head_dim; ++e) {
      dot += static_cast<double>(d.q[e]) * d.key_f[j * d.view.row_stride + d.view.offset + e];
    }
    scores[j] = dot * scale;
    max_score = std::max(max_score, scores[j]);
  }
  for (double& s : scores) sum += s = std::exp(s - max_score);
  for (int64_t j = 0; j < n_kv; ++j) {
    for (int64_t e = 0; e < head_dim; ++e) {
      out[e] += scores[j] / sum * d.value_f[j * d.view.row_stride + d.view.offset + e];
    }
  }
  return out;
}

// Runs `f` once with each SIMD instruction set this CPU has selected (AVX2, AVX-512);
// false when it has none.
template <typename F>
bool with_each_simd_isa(F f) {
  bool ran = false;
  for (Isa isa : testing::supported_isas()) {
    if (isa == Isa::kScalar) continue;
    SCOPED_TRACE(isa_name(isa));
    testing::ScopedIsa scoped(isa);
    f();
    ran = true;
  }
  return ran;
}

class Attention : public ::testing::TestWithParam<Case> {};

TEST_P(Attention, MatchesPlainSoftmaxWithinCacheRounding) {
  const Case c = GetParam();
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  for (int64_t head = 0; head < c.n_head_kv; ++head) {
    const Data d = make(c, head, 17 + static_cast<uint32_t>(head));
    std::vector<float> out(c.head_dim);
    ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, out.data());
    const std::vector<double> expected = naive(d, c.n_kv, c.head_dim, scale);
    // F16 accumulation: a few half-precision ulps of values of magnitude ~1. Q8_0 is
    // compared with its own dequantized rows, so it is as exact as F32.
    const double tolerance = c.type == DType::F16 ? 2e-2 : 1e-5;
    for (int64_t e = 0; e < c.head_dim; ++e) EXPECT_NEAR(out[e], expected[e], tolerance) << e;
  }
}

// Every SIMD path (AVX-512 for head sizes of 16k, AVX2 for 8k) equals the scalar one.
TEST_P(Attention, SimdIsBitIdenticalToScalar) {
  const Case c = GetParam();
  if (!cpu_supports(Isa::kAvx2) || c.head_dim % 8 != 0) GTEST_SKIP() << "no SIMD path here";
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Data d = make(c, c.n_head_kv - 1, 99);
  std::vector<float> a(c.head_dim);
  ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, a.data());
  with_each_simd_isa([&] {
    std::vector<float> b(c.head_dim);
    attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, b.data());
    EXPECT_EQ(a, b);
  });
}

// The paged cache changes where rows are, never the arithmetic: attention over blocks
// equals attention over contiguous rows bit for bit, for every block size, in both paths.
TEST_P(Attention, BlocksAreBitIdenticalToContiguousRows) {
  const Case c = GetParam();
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Data d = make(c, c.n_head_kv / 2, 5);
  std::vector<float> contiguous(c.head_dim);
  ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, contiguous.data());
  for (int64_t block_size : {1, 7, 16, 32, 512}) {
    SCOPED_TRACE(block_size);
    const Paged p = page(d, c.n_kv, block_size, static_cast<uint32_t>(block_size));
    std::vector<float> out(c.head_dim);
    ref::attend_head(d.q.data(), p.view, c.n_kv, c.head_dim, scale, out.data());
    EXPECT_EQ(out, contiguous);
    if (c.head_dim % 8 != 0) continue;
    with_each_simd_isa([&] {
      std::fill(out.begin(), out.end(), 0.0f);
      attend_head(d.q.data(), p.view, c.n_kv, c.head_dim, scale, out.data());
      EXPECT_EQ(out, contiguous);
    });
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Attention,
    ::testing::Values(
        Case{8, 1, 4, DType::F16}, Case{8, 37, 4, DType::F16}, Case{64, 300, 4, DType::F16},
        Case{128, 65, 2, DType::F16}, Case{64, 300, 4, DType::F32}, Case{72, 9, 1, DType::F16},
        Case{6, 5, 2, DType::F32}, Case{8, 37, 4, DType::Q8_0}, Case{64, 300, 4, DType::Q8_0},
        Case{128, 65, 2, DType::Q8_0}, Case{16, 50, 2, DType::Q8_0}, Case{4, 19, 8, DType::Q8_0},
        // 64 + 16 and 48: the AVX-512 path's leftover sum in double.
        Case{80, 33, 2, DType::F16}, Case{48, 20, 2, DType::F32}, Case{80, 33, 2, DType::Q8_0}));

// Q8_0 keys and values are read as F32 would read their dequantized rows: the same
// result as an F32 cache holding them, bit for bit.
TEST(AttentionQ8_0, EqualsF32CacheOfTheDequantizedRows) {
  const Case c{64, 100, 4, DType::Q8_0};
  const float scale = 0.125f;
  const Data d = make(c, 2, 7);
  KvView f32 = d.view;
  f32.type = DType::F32;
  f32.keys = reinterpret_cast<const uint8_t*>(d.key_f.data());
  f32.values = reinterpret_cast<const uint8_t*>(d.value_f.data());
  std::vector<float> a(c.head_dim), b(c.head_dim);
  ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, a.data());
  ref::attend_head(d.q.data(), f32, c.n_kv, c.head_dim, scale, b.data());
  EXPECT_EQ(a, b);
}

TEST(AttentionOrder, DotFollowsGgmlsSummationOrder) {
  // 64 ones times 1 + one leftover: the order only matters for rounding, but the value
  // must be exact here.
  std::vector<float> x(65, 1.0f), y(65, 2.0f);
  EXPECT_EQ(ref::dot_ggml_order(x.data(), y.data(), 65), 130.0f);
}

}  // namespace
}  // namespace loom::kernels
