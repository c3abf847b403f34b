// AVX2 + F16C + FMA attention for one head, for head sizes that are a multiple of 8: the
// cache reads and ggml-order score of 8-lane vectors; the softmax loop is
// attention_simd.h's, instantiated per cache type so the inner loops carry no type
// branches. Bit-identical to ref::attend_head (same operations in the same order);
// compiled with LOOM_AVX2_FLAGS and called only when the CPU has those extensions.
#include <immintrin.h>

#include <cstring>

#include "kernels/attention.h"
#include "kernels/attention_simd.h"
#include "kernels/quant_blocks.h"
#include "kernels/vector_exp.h"

namespace loom::kernels::avx2 {
namespace {

// Eight elements of a cached row from `index` on (index a multiple of 8, so a Q8_0 load
// never straddles two blocks of 32).
template <DType kType>
inline __m256 load8(const uint8_t* row, int64_t index) {
  if constexpr (kType == DType::F16) {
    const auto* p = reinterpret_cast<const uint16_t*>(row) + index;
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else if constexpr (kType == DType::Q8_0) {
    const uint8_t* block = row + index / kQK8_0 * sizeof(BlockQ8_0);
    uint16_t d;
    std::memcpy(&d, block, sizeof(d));
    const __m128i q8 =
        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + sizeof(d) + index % kQK8_0));
    const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(d)), q);  // d * q, as the scalar load
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + index);
  }
}

template <DType kType>
inline __m256 round_to(__m256 x) {
  if constexpr (kType != DType::F16) return x;
  return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// ggml's order: per 64 elements, four 16-lane FMA accumulators (two __m256 each); they
// are combined (0+2)+(1+3), reduced halves-quarters-pairs; the rest is summed in double.
// n is a multiple of 8.
template <DType kType>
inline float score_dot(const float* q, const uint8_t* key_row, int64_t offset, int64_t n) {
  const int64_t np = n / 64 * 64;
  double sum = 0;
  if (np > 0) {
    __m256 lo[4], hi[4];
    for (int j = 0; j < 4; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 64) {
      for (int j = 0; j < 4; ++j) {
        const int64_t k = i + 16 * j;
        lo[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + k), load8<kType>(key_row, offset + k), lo[j]);
        hi[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + k + 8), load8<kType>(key_row, offset + k + 8),
                                hi[j]);
      }
    }
    const __m256 c_lo = _mm256_add_ps(_mm256_add_ps(lo[0], lo[2]), _mm256_add_ps(lo[1], lo[3]));
    const __m256 c_hi = _mm256_add_ps(_mm256_add_ps(hi[0], hi[2]), _mm256_add_ps(hi[1], hi[3]));
    const __m256 t8 = _mm256_add_ps(c_hi, c_lo);
    const __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
    const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    sum = _mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)));
  }
  // The rest (n is a multiple of 8): the same float products, summed one by one in double.
  for (int64_t i = np; i < n; i += 8) {
    alignas(32) float products[8];
    _mm256_store_ps(products,
                    _mm256_mul_ps(_mm256_loadu_ps(q + i), load8<kType>(key_row, offset + i)));
    for (float p : products) sum += static_cast<double>(p);
  }
  return static_cast<float>(sum);
}

// The vector operations attend_online needs (attention_simd.h).
struct Ops {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float f) { return _mm256_set1_ps(f); }
  static Vec load(const float* p) { return _mm256_load_ps(p); }
  static void store(float* p, Vec v) { _mm256_store_ps(p, v); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  // detail::softmax_weight lane for lane: e^x of x clamped to the floor, then masked.
  static Vec softmax_weight(Vec x) {
    const Vec floor = _mm256_set1_ps(detail::exp_double::kFloor);
    const auto keep = _mm256_cmp_ps(x, floor, _CMP_GE_OQ);
    const Vec e = detail::simd::exp_via_double(_mm256_max_ps(x, floor));
    return _mm256_and_ps(keep, e);
  }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  template <DType kType>
  static Vec round(Vec v) {
    return round_to<kType>(v);
  }
  template <DType kType>
  static Vec row(const uint8_t* row, int64_t index) {
    return load8<kType>(row, index);
  }
  template <DType kType>
  static float dot(const float* q, const uint8_t* key_row, int64_t offset, int64_t n) {
    return score_dot<kType>(q, key_row, offset, n);
  }
};

}  // namespace

void attend_heads(const float* q, int64_t q_stride, int64_t n_heads, const KvView& kv, int64_t n_kv,
                  int64_t head_dim, const AttentionParams* params, float* out, int64_t out_stride) {
  detail::attend_group_with<Ops>(q, q_stride, n_heads, kv, n_kv, head_dim, params, out, out_stride);
}

}  // namespace loom::kernels::avx2
