// AVX-512 versions of the element-wise ops (compiled with LOOM_AVX512_FLAGS; called only
// when the CPU has them). Each is its scalar reference in ops_ref.cpp lane for lane: the
// same IEEE operations in the same order, so the results are bit-identical. A partial
// vector at the end of a row is a masked load of the same vector code, so an element's
// value never depends on where it falls relative to a vector boundary.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "kernels/ops_kernels.h"
#include "kernels/vector_exp.h"

namespace loom::kernels::detail::avx512 {
namespace {

using simd::expf_ggml;

// The lanes of the first `count` (<= 16) elements.
inline __mmask16 first(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// Sixteen floats from p; lanes past `count` hold `fill` (nothing past p + count is read).
inline __m512 load(const float* p, int64_t count, float fill) {
  if (count >= 16) return _mm512_loadu_ps(p);
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), first(count), p);
}

inline void store(float* p, __m512 v, int64_t count) {
  if (count >= 16) return _mm512_storeu_ps(p, v);
  _mm512_mask_storeu_ps(p, first(count), v);
}

// The 16 double lanes of ref::layernorm and ref::rmsnorm: acc[0] holds lanes 0-7, acc[1]
// lanes 8-15.
inline void add_to_lanes16(__m512 v, __m512d acc[2]) {
  acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  acc[1] = _mm512_add_pd(
      acc[1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

// The lanes folded in halves: l + (l + 8), l + (l + 4), l + (l + 2), l + (l + 1).
inline double fold_lanes16(const __m512d acc[2]) {
  const __m512d by8 = _mm512_add_pd(acc[0], acc[1]);
  const __m256d by4 = _mm256_add_pd(_mm512_castpd512_pd256(by8), _mm512_extractf64x4_pd(by8, 1));
  const __m128d by2 = _mm_add_pd(_mm256_castpd256_pd128(by4), _mm256_extractf128_pd(by4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(by2, _mm_unpackhi_pd(by2, by2)));
}

// (v - center)^2 of the 16 values from p on added to the lanes; padding is center itself
// (c - c = +0, adding nothing). Around a center of 0 these are the squares v * v bit for
// bit (v - 0 is v, -0 included), which is rmsnorm's sum.
inline void add_squares16(const float* p, int64_t count, float center, __m512d acc[2]) {
  const __m512 d = _mm512_sub_ps(load(p, count, center), _mm512_set1_ps(center));
  add_to_lanes16(_mm512_mul_ps(d, d), acc);
}

// ref::tanh_f32 lane for lane: both branches computed, the one the scalar takes selected.
inline __m512 tanh16(__m512 x) {
  const __m512 a = _mm512_abs_ps(x);
  const __m512 s = _mm512_mul_ps(a, a);
  __m512 p =
      _mm512_fmadd_ps(_mm512_set1_ps(-5.70498872745e-3f), s, _mm512_set1_ps(2.06390887954e-2f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-5.37397155531e-2f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.33314422036e-1f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-3.33332819422e-1f));
  const __m512 near_zero = _mm512_fmadd_ps(p, _mm512_mul_ps(s, a), a);
  // minps(a, 10) is a < 10 ? a : 10, as the scalar clamp (a NaN gives 10).
  const __m512 e =
      expf_ggml(_mm512_mul_ps(_mm512_set1_ps(2.0f), _mm512_min_ps(a, _mm512_set1_ps(10.0f))));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 far = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  const __m512 r =
      _mm512_mask_mov_ps(far, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ), near_zero);
  // copysign(r, x): the sign bit from x, the rest from r.
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512 signed_r = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
      sign, _mm512_castps_si512(x), _mm512_castps_si512(r), 0xca));  // sign ? x : r, bitwise
  return _mm512_mask_mov_ps(signed_r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

// ref::gelu_table()[f16 bits of x] widened to f32: a gather of the 32-bit word at entry
// idx (the table has one entry of padding after the last), narrowed to its low half.
inline __m512 gelu_lookup(__m512 x, const uint16_t* table) {
  const __m512i idx =
      _mm512_cvtepu16_epi32(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m512i words = _mm512_i32gather_epi32(idx, table, sizeof(uint16_t));
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(words));
}

// The table value, or g itself where g >= 10; the lanes where g <= -10 are returned in *low.
inline __m512 gelu_or_x(__m512 g, const uint16_t* table, __mmask16* low) {
  *low = _mm512_cmp_ps_mask(g, _mm512_set1_ps(-10.0f), _CMP_LE_OQ);
  const __mmask16 high = _mm512_cmp_ps_mask(g, _mm512_set1_ps(10.0f), _CMP_GE_OQ);
  return _mm512_mask_mov_ps(gelu_lookup(g, table), high, g);
}

// ref::gelu lane for lane: x <= -10 gives +0, x >= 10 gives x, otherwise the table.
inline __m512 gelu16(__m512 x, const uint16_t* table) {
  __mmask16 low;
  const __m512 y = gelu_or_x(x, table, &low);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~low), y);
}

// ref::geglu lane for lane: g <= -10 gives +0 whatever u is, otherwise gelu(g) * u.
inline __m512 geglu16(__m512 g, __m512 u, const uint16_t* table) {
  __mmask16 low;
  const __m512 y = gelu_or_x(g, table, &low);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~low), _mm512_mul_ps(y, u));
}

}  // namespace

// ref::rmsnorm's order: the squares summed in 16 double lanes folded in halves, then
// (x * scale) * weight lane by lane.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m512d acc[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  for (int64_t i = 0; i < n; i += 16) add_squares16(x + i, n - i, 0.0f, acc);
  const auto mean = static_cast<float>(fold_lanes16(acc) / static_cast<double>(n));
  const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_mul_ps(load(x + i, n - i, 0.0f), scale);
    store(out + i, _mm512_mul_ps(v, load(weight + i, n - i, 0.0f)), n - i);
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    store(y + i, _mm512_add_ps(load(y + i, n - i, 0.0f), load(x + i, n - i, 0.0f)), n - i);
  }
}

// ref::layernorm's order: 16 double lanes folded in halves, then lane-wise f32 steps.
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out) {
  __m512d acc[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  for (int64_t i = 0; i < n; i += 16) add_to_lanes16(load(x + i, n - i, 0.0f), acc);
  const auto mean = static_cast<float>(fold_lanes16(acc) / static_cast<double>(n));
  const __m512 vmean = _mm512_set1_ps(mean);
  acc[0] = acc[1] = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) add_squares16(x + i, n - i, mean, acc);
  const auto variance = static_cast<float>(fold_lanes16(acc) / static_cast<double>(n));
  const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(variance + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t count = n - i;
    __m512 v = _mm512_mul_ps(_mm512_sub_ps(load(x + i, count, 0.0f), vmean), scale);
    if (weight != nullptr) v = _mm512_mul_ps(v, load(weight + i, count, 0.0f));
    if (bias != nullptr) v = _mm512_add_ps(v, load(bias + i, count, 0.0f));
    store(out + i, v, count);
  }
}

void gelu(float* x, int64_t n) {
  const uint16_t* table = kernels::ref::gelu_table();
  for (int64_t i = 0; i < n; i += 16) {
    store(x + i, gelu16(load(x + i, n - i, 0.0f), table), n - i);
  }
}

void geglu(float* gate, const float* up, int64_t n) {
  const uint16_t* table = kernels::ref::gelu_table();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 y = geglu16(load(gate + i, n - i, 0.0f), load(up + i, n - i, 0.0f), table);
    store(gate + i, y, n - i);
  }
}

void softcap(float* x, int64_t n, float cap) {
  const __m512 vcap = _mm512_set1_ps(cap);
  const __m512 inv_cap = _mm512_set1_ps(1.0f / cap);
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = load(x + i, n - i, 0.0f);
    store(x + i, _mm512_mul_ps(vcap, tanh16(_mm512_mul_ps(v, inv_cap))), n - i);
  }
}

}  // namespace loom::kernels::detail::avx512
