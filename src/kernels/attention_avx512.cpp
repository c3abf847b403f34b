// AVX-512 attention for one head, for head sizes that are a multiple of 16: the cache
// reads and ggml-order score of 16-lane vectors (one zmm where AVX2 uses two ymm); the
// softmax loop is attention_simd.h's. Every operation is lane-wise or keeps ggml's
// reduction order, so it is bit-identical to ref::attend_head. Compiled with
// LOOM_AVX512_FLAGS; called only when the CPU has them.
#include <immintrin.h>

#include <cstring>

#include "kernels/attention.h"
#include "kernels/attention_simd.h"
#include "kernels/quant_blocks.h"
#include "kernels/vector_exp.h"

namespace loom::kernels::avx512 {
namespace {

// Sixteen elements of a cached row from `index` on (index a multiple of 16, so a Q8_0
// load never straddles two blocks of 32).
template <DType kType>
inline __m512 load16(const uint8_t* row, int64_t index) {
  if constexpr (kType == DType::F16) {
    const auto* p = reinterpret_cast<const uint16_t*>(row) + index;
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else if constexpr (kType == DType::Q8_0) {
    const uint8_t* block = row + index / kQK8_0 * sizeof(BlockQ8_0);
    uint16_t d;
    std::memcpy(&d, block, sizeof(d));
    const __m128i q8 =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + sizeof(d) + index % kQK8_0));
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
    return _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(d)), q);  // d * q, as the scalar load
  } else {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + index);
  }
}

template <DType kType>
inline __m512 round_to(__m512 x) {
  if constexpr (kType != DType::F16) return x;
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// ggml's order: per 64 elements, four 16-lane FMA accumulators, combined (0+2)+(1+3) and
// reduced halves-quarters-pairs; the rest summed in double. n is a multiple of 16.
template <DType kType>
inline float score_dot(const float* q, const uint8_t* key_row, int64_t offset, int64_t n) {
  const int64_t np = n / 64 * 64;
  double sum = 0;
  if (np > 0) {
    __m512 acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < np; i += 64) {
      for (int j = 0; j < 4; ++j) {
        const int64_t k = i + 16 * j;
        acc[j] =
            _mm512_fmadd_ps(_mm512_loadu_ps(q + k), load16<kType>(key_row, offset + k), acc[j]);
      }
    }
    const __m512 c = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3]));
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1));
    const __m256 t8 = _mm256_add_ps(hi, _mm512_castps512_ps256(c));
    const __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
    const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    sum = _mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)));
  }
  // The rest: the same float products, summed one by one in double.
  for (int64_t i = np; i < n; i += 16) {
    alignas(64) float products[16];
    _mm512_store_ps(products,
                    _mm512_mul_ps(_mm512_loadu_ps(q + i), load16<kType>(key_row, offset + i)));
    for (float p : products) sum += static_cast<double>(p);
  }
  return static_cast<float>(sum);
}

// The vector operations attend_online needs (attention_simd.h).
struct Ops {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float f) { return _mm512_set1_ps(f); }
  static Vec load(const float* p) { return _mm512_load_ps(p); }
  static void store(float* p, Vec v) { _mm512_store_ps(p, v); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  // detail::softmax_weight lane for lane: e^x of x clamped to the floor, then masked.
  static Vec softmax_weight(Vec x) {
    const Vec floor = _mm512_set1_ps(detail::exp_double::kFloor);
    const auto keep = _mm512_cmp_ps_mask(x, floor, _CMP_GE_OQ);
    const Vec e = detail::simd::exp_via_double(_mm512_max_ps(x, floor));
    return _mm512_maskz_mov_ps(keep, e);
  }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  template <DType kType>
  static Vec round(Vec v) {
    return round_to<kType>(v);
  }
  template <DType kType>
  static Vec row(const uint8_t* row, int64_t index) {
    return load16<kType>(row, index);
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

}  // namespace loom::kernels::avx512
