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

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/exp_double.h"
#include "kernels/isa.h"
#include "kernels/quantize.h"
#include "test_util.h"

namespace loom::kernels {
namespace {

// The kernel against softmax in double: with an F16 cache the weighted sum is rounded to
// F16 at every key (2^-11 relative each), so the error grows with the output; F32 and Q8_0
// (read as F32) are off by f32 rounding only.
double tolerance(DType type, double expected) {
  return type == DType::F16 ? 2e-3 * (1 + std::fabs(expected)) : 1e-5;
}

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

// softmax_j(s_j) v_j in double, s_j as AttentionParams defines it: scale * q.k_j, capped
// by softcap * tanh(s / softcap), minus alibi_slope * (n_kv - 1 - j), for first <= j < n_kv.
// The query is taken as the kernel takes it: rounded to an F16 cache's type.
std::vector<double> naive(const Data& d, int64_t n_kv, int64_t head_dim, const AttentionParams& p) {
  const int64_t first = std::max<int64_t>(0, p.first);
  std::vector<double> scores(n_kv, -INFINITY), out(head_dim, 0.0);
  double max_score = -INFINITY, sum = 0;
  for (int64_t j = first; j < n_kv; ++j) {
    double dot = 0;
    for (int64_t e = 0; e < head_dim; ++e) {
      const float q = d.view.type == DType::F16 ? fp16_to_fp32(fp32_to_fp16(d.q[e])) : d.q[e];
      dot += static_cast<double>(q) * d.key_f[j * d.view.row_stride + d.view.offset + e];
    }
    double s = dot * p.scale;
    if (p.softcap != 0.0f) s = p.softcap * std::tanh(s / p.softcap);
    s -= static_cast<double>(p.alibi_slope) * static_cast<double>(n_kv - 1 - j);
    scores[j] = s;
    max_score = std::max(max_score, s);
  }
  for (int64_t j = first; j < n_kv; ++j) sum += scores[j] = std::exp(scores[j] - max_score);
  for (int64_t j = first; j < n_kv; ++j) {
    for (int64_t e = 0; e < head_dim; ++e) {
      out[e] += scores[j] / sum * d.value_f[j * d.view.row_stride + d.view.offset + e];
    }
  }
  return out;
}

std::vector<double> naive(const Data& d, int64_t n_kv, int64_t head_dim, float scale) {
  return naive(d, n_kv, head_dim, AttentionParams{.scale = scale});
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
    // F16 accumulation: a few half-precision ulps of the output. Q8_0 is compared with
    // its own dequantized rows, so it is as exact as F32.
    for (int64_t e = 0; e < c.head_dim; ++e) {
      EXPECT_NEAR(out[e], expected[e], tolerance(c.type, expected[e])) << e;
    }
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

// What models add to plain attention, alone and together: a soft-cap that bites (scores
// scaled up so that many exceed it), ALiBi, a sliding window (first > 0), all three.
struct NamedParams {
  const char* name;
  AttentionParams params;
};

std::vector<NamedParams> params_for(const Case& c) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  return {
      {"softcap", {.scale = 8.0f * scale, .softcap = 2.5f}},
      {"alibi", {.scale = scale, .alibi_slope = 0.25f}},
      {"window", {.scale = scale, .first = c.n_kv / 2}},
      {"last key only", {.scale = scale, .first = c.n_kv - 1}},
      {"all", {.scale = 8.0f * scale, .softcap = 3.0f, .alibi_slope = 0.125f, .first = c.n_kv / 3}},
  };
}

// The scalar reference with each AttentionParams against softmax in double: F16 is off
// by the cache's roundings (the accumulator is F16), F32 and Q8_0 (compared with its own
// dequantized rows) by little more than f32 rounding.
TEST_P(Attention, ParamsMatchPlainSoftmax) {
  const Case c = GetParam();
  const Data d = make(c, c.n_head_kv - 1, 23);
  for (const NamedParams& np : params_for(c)) {
    SCOPED_TRACE(np.name);
    std::vector<float> out(c.head_dim);
    ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, np.params, out.data());
    const std::vector<double> expected = naive(d, c.n_kv, c.head_dim, np.params);
    for (int64_t e = 0; e < c.head_dim; ++e) {
      ASSERT_NEAR(out[e], expected[e], tolerance(c.type, expected[e])) << e;
    }
  }
}

TEST_P(Attention, ParamsSimdIsBitIdenticalToScalar) {
  const Case c = GetParam();
  if (!cpu_supports(Isa::kAvx2) || c.head_dim % 8 != 0) GTEST_SKIP() << "no SIMD path here";
  const Data d = make(c, c.n_head_kv - 1, 31);
  for (const NamedParams& np : params_for(c)) {
    SCOPED_TRACE(np.name);
    std::vector<float> a(c.head_dim);
    ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, np.params, a.data());
    with_each_simd_isa([&] {
      std::vector<float> b(c.head_dim);
      attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, np.params, b.data());
      EXPECT_EQ(a, b);
      // The same over scattered blocks.
      const Paged p = page(d, c.n_kv, 7, 3);
      std::fill(b.begin(), b.end(), 0.0f);
      attend_head(d.q.data(), p.view, c.n_kv, c.head_dim, np.params, b.data());
      EXPECT_EQ(a, b);
    });
  }
}

// A window starting at `first` is attention over the rows from `first` on, bit for bit
// (no ALiBi: its bias depends on the absolute distance, not on where the rows start).
TEST_P(Attention, WindowEqualsTheRowsItSees) {
  const Case c = GetParam();
  const Data d = make(c, 0, 47);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const int64_t first = c.n_kv / 2;
  KvView tail = d.view;
  const int64_t bytes = row_bytes(c.type, d.view.row_stride);
  tail.keys += first * bytes;
  tail.values += first * bytes;
  for (Isa isa : testing::supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    testing::ScopedIsa scoped(isa);
    std::vector<float> windowed(c.head_dim), rows(c.head_dim);
    attend_head(d.q.data(), d.view, c.n_kv, c.head_dim,
                AttentionParams{.scale = scale, .first = first}, windowed.data());
    attend_head(d.q.data(), tail, c.n_kv - first, c.head_dim, scale, rows.data());
    EXPECT_EQ(windowed, rows);
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

// ggml's rule: m0 = 2^(-max_bias / n) and m1 = 2^(-max_bias / 2n) for n the largest power
// of two <= n_head; the first n heads get m0^(h+1), the rest m1^(2(h-n)+1).
TEST(Alibi, SlopesOfFourAndSixHeads) {
  const float four[] = {0x1p-2f, 0x1p-4f, 0x1p-6f, 0x1p-8f};
  for (int64_t h = 0; h < 4; ++h) EXPECT_EQ(alibi_slope(h, 4, 8.0f), four[h]) << h;
  const float six[] = {0x1p-2f, 0x1p-4f, 0x1p-6f, 0x1p-8f, 0x1p-1f, 0x1p-3f};
  for (int64_t h = 0; h < 6; ++h) EXPECT_EQ(alibi_slope(h, 6, 8.0f), six[h]) << h;
  EXPECT_EQ(alibi_slope(3, 6, 0.0f), 0.0f);  // no max_bias: no ALiBi
}

// ALiBi with a slope so steep that only the newest key counts: the output is its value.
TEST(Alibi, SteepSlopeSelectsTheNewestKey) {
  const Case c{16, 20, 1, DType::F32};
  const Data d = make(c, 0, 5);
  for (Isa isa : testing::supported_isas()) {
    testing::ScopedIsa scoped(isa);
    std::vector<float> out(c.head_dim);
    attend_head(d.q.data(), d.view, c.n_kv, c.head_dim,
                AttentionParams{.scale = 0.25f, .alibi_slope = 1000.0f}, out.data());
    for (int64_t e = 0; e < c.head_dim; ++e) {
      EXPECT_EQ(out[e], d.value_f[(c.n_kv - 1) * c.head_dim + e]) << isa_name(isa) << " " << e;
    }
  }
}

// A GQA group attended together: each head gives what attend_head gives alone, bit for
// bit, whatever the group's size (more than one pass of kMaxGroup heads included), the
// heads' ALiBi slopes, the cache type and the instruction set.
TEST(AttentionGroup, EachHeadEqualsAttendingItAlone) {
  for (const Case& c : {Case{64, 70, 2, DType::F16}, Case{80, 33, 1, DType::F32},
                        Case{128, 40, 2, DType::Q8_0}, Case{8, 19, 1, DType::F16}}) {
    const Data d = make(c, c.n_head_kv - 1, 61);
    for (int64_t n_heads : {1, 3, 8, 11}) {
      SCOPED_TRACE(::testing::Message() << c.head_dim << " " << n_heads);
      const std::vector<float> q = testing::random_floats(n_heads * c.head_dim, 71);
      std::vector<AttentionParams> params(n_heads);
      for (int64_t g = 0; g < n_heads; ++g) {
        params[g] = {.scale = 0.2f, .alibi_slope = 0.01f * static_cast<float>(g), .first = 2};
      }
      for (Isa isa : testing::supported_isas()) {
        SCOPED_TRACE(isa_name(isa));
        testing::ScopedIsa scoped(isa);
        std::vector<float> together(n_heads * c.head_dim), alone(c.head_dim);
        attend_heads(q.data(), c.head_dim, n_heads, d.view, c.n_kv, c.head_dim, params.data(),
                     together.data(), c.head_dim);
        for (int64_t g = 0; g < n_heads; ++g) {
          ref::attend_head(q.data() + g * c.head_dim, d.view, c.n_kv, c.head_dim, params[g],
                           alone.data());
          EXPECT_TRUE(std::equal(alone.begin(), alone.end(), together.begin() + g * c.head_dim))
              << "head " << g;
        }
      }
    }
  }
}

TEST(AttentionGroup, HeadsWithDifferentWindowsAreRefused) {
  const Case c{16, 10, 1, DType::F32};
  const Data d = make(c, 0, 3);
  const std::vector<float> q = testing::random_floats(2 * c.head_dim, 5);
  const AttentionParams params[2] = {{.scale = 1.0f, .first = 0}, {.scale = 1.0f, .first = 4}};
  std::vector<float> out(2 * c.head_dim);
  EXPECT_THROW(attend_heads(q.data(), c.head_dim, 2, d.view, c.n_kv, c.head_dim, params, out.data(),
                            c.head_dim),
               Error);
}

// The softmax's exponential is e^x correctly rounded (against long double's expl) at
// every float step of 2^-10 over the range scores take, and so within an ulp of libm's
// expf, which the reference engine uses (glibc's expf misrounds some results below
// e^-87, 57 of these points).
TEST(AttentionExp, IsCorrectlyRoundedSoWithinAnUlpOfLibm) {
  for (float x = detail::exp_double::kFloor; x <= 0.0f; x += 0x1p-10f) {
    const float e = detail::exp_via_double(x);
    ASSERT_EQ(e, static_cast<float>(std::exp(static_cast<long double>(x)))) << x;
    const float libm = std::exp(x);
    ASSERT_LE(std::fabs(e - libm), std::fabs(std::nextafter(libm, 0.0f) - libm)) << x;
  }
  EXPECT_EQ(detail::exp_via_double(0.0f), 1.0f);
  EXPECT_EQ(detail::exp_via_double(detail::exp_double::kFloor), 0.0f);
}

TEST(AttentionOrder, DotFollowsGgmlsSummationOrder) {
  // 64 ones times 1 + one leftover: the order only matters for rounding, but the value
  // must be exact here.
  std::vector<float> x(65, 1.0f), y(65, 2.0f);
  EXPECT_EQ(ref::dot_ggml_order(x.data(), y.data(), 65), 130.0f);
}

}  // namespace
}  // namespace loom::kernels
