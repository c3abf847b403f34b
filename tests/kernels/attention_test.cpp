// Attention: the AVX2 path is bit-identical to the scalar reference, and both agree with
// a plain softmax-weighted sum computed in double (within the F16 cache's rounding).
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/isa.h"

namespace loom::kernels {
namespace {

struct Case {
  int64_t head_dim, n_kv, n_head_kv;
  DType type;
};

struct Data {
  std::vector<float> q;
  std::vector<uint8_t> keys, values;  // (n_kv, n_head_kv * head_dim) of type
  KvView view;
};

Data make(const Case& c, int64_t head, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data d;
  const int64_t row = c.n_head_kv * c.head_dim;
  const int64_t bytes = c.type == DType::F16 ? 2 : 4;
  d.q.resize(c.head_dim);
  for (float& x : d.q) x = normal(rng);
  d.keys.resize(c.n_kv * row * bytes);
  d.values.resize(c.n_kv * row * bytes);
  for (int64_t i = 0; i < c.n_kv * row; ++i) {
    const float k = normal(rng), v = normal(rng);
    if (c.type == DType::F16) {
      reinterpret_cast<uint16_t*>(d.keys.data())[i] = fp32_to_fp16(k);
      reinterpret_cast<uint16_t*>(d.values.data())[i] = fp32_to_fp16(v);
    } else {
      reinterpret_cast<float*>(d.keys.data())[i] = k;
      reinterpret_cast<float*>(d.values.data())[i] = v;
    }
  }
  d.view = {d.keys.data(), d.values.data(), c.type, row, head * c.head_dim};
  return d;
}

float element(const Data& d, const void* base, int64_t i) {
  return d.view.type == DType::F16 ? fp16_to_fp32(static_cast<const uint16_t*>(base)[i])
                                   : static_cast<const float*>(base)[i];
}

std::vector<double> naive(const Data& d, int64_t n_kv, int64_t head_dim, float scale) {
  std::vector<double> scores(n_kv), out(head_dim, 0.0);
  double max_score = -INFINITY, sum = 0;
  for (int64_t j = 0; j < n_kv; ++j) {
    double dot = 0;
    for (int64_t e = 0; e < head_dim; ++e) {
      dot += static_cast<double>(d.q[e]) *
             element(d, d.view.keys, j * d.view.row_stride + d.view.offset + e);
    }
    scores[j] = dot * scale;
    max_score = std::max(max_score, scores[j]);
  }
  for (double& s : scores) sum += s = std::exp(s - max_score);
  for (int64_t j = 0; j < n_kv; ++j) {
    for (int64_t e = 0; e < head_dim; ++e) {
      out[e] +=
          scores[j] / sum * element(d, d.view.values, j * d.view.row_stride + d.view.offset + e);
    }
  }
  return out;
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
    // F16 accumulation: a few half-precision ulps of values of magnitude ~1.
    const double tolerance = c.type == DType::F16 ? 2e-2 : 1e-5;
    for (int64_t e = 0; e < c.head_dim; ++e) EXPECT_NEAR(out[e], expected[e], tolerance) << e;
  }
}

TEST_P(Attention, Avx2IsBitIdenticalToScalar) {
  const Case c = GetParam();
  if (!cpu_supports(Isa::kAvx2) || c.head_dim % 8 != 0) GTEST_SKIP() << "no AVX2 path here";
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Data d = make(c, c.n_head_kv - 1, 99);
  std::vector<float> a(c.head_dim), b(c.head_dim);
  ref::attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, a.data());
  const Isa before = active_isa();
  set_isa(Isa::kAvx2);
  attend_head(d.q.data(), d.view, c.n_kv, c.head_dim, scale, b.data());
  set_isa(before);
  EXPECT_EQ(a, b);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention,
                         ::testing::Values(Case{8, 1, 4, DType::F16}, Case{8, 37, 4, DType::F16},
                                           Case{64, 300, 4, DType::F16},
                                           Case{128, 65, 2, DType::F16},
                                           Case{64, 300, 4, DType::F32}, Case{72, 9, 1, DType::F16},
                                           Case{6, 5, 2, DType::F32}));

TEST(AttentionOrder, DotFollowsGgmlsSummationOrder) {
  // 64 ones times 1 + one leftover: the order only matters for rounding, but the value
  // must be exact here.
  std::vector<float> x(65, 1.0f), y(65, 2.0f);
  EXPECT_EQ(ref::dot_ggml_order(x.data(), y.data(), 65), 130.0f);
}

}  // namespace
}  // namespace loom::kernels
