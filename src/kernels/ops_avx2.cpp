// AVX2 versions of the element-wise ops (compiled with -mavx2 -mfma -mf16c). Element i's
// result never depends on where i falls relative to a vector boundary: partial vectors
// at the end go through the same vector code via a padded buffer, so the value of an
// element does not change with the length of the array it sits in (a batch). rmsnorm,
// swiglu, add, layernorm, gelu, geglu and softcap repeat their ops_ref.cpp references lane
// for lane and are bit-identical to them.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/ops_kernels.h"
#include "kernels/vector_exp.h"

namespace loom::kernels::detail::avx2 {
namespace {

using simd::expf_ggml;

// e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7 polynomial (Cephes expf
// coefficients), times 2^n built in the exponent bits. Results below the normal range
// flush to 0, above it go to +inf; NaN stays NaN.
inline __m256 exp8(__m256 x) {
  const __m256 max_input = _mm256_set1_ps(88.72283935546875f);   // ln(FLT_MAX)
  const __m256 min_input = _mm256_set1_ps(-87.33654022216797f);  // ln(FLT_MIN)
  const __m256 clamped = _mm256_min_ps(_mm256_max_ps(x, min_input), max_input);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(clamped, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), clamped);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n as 2^h * 2^(n - h) with h = n / 2: n reaches 128 at the top of the range, one
  // past the largest exponent a single f32 can hold.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 scale_a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  const __m256 scale_b = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), bias), 23));
  __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, scale_a), scale_b);
  result = _mm256_andnot_ps(_mm256_cmp_ps(x, min_input, _CMP_LT_OQ), result);
  result =
      _mm256_blendv_ps(result, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, max_input, _CMP_GT_OQ));
  return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// Up to 8 floats from p, the rest of the vector filled with `fill`.
inline __m256 load_partial(const float* p, int64_t count, float fill) {
  alignas(32) float buf[8];
  for (float& v : buf) v = fill;
  std::memcpy(buf, p, static_cast<size_t>(count) * sizeof(float));
  return _mm256_load_ps(buf);
}

inline void store_partial(float* p, __m256 v, int64_t count) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, v);
  std::memcpy(p, buf, static_cast<size_t>(count) * sizeof(float));
}

// Sum of the 8 f32 lanes of v added into two double accumulators.
inline void add_to_double(__m256 v, __m256d& lo, __m256d& hi) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

inline double hsum(__m256d lo, __m256d hi) {
  const __m256d s = _mm256_add_pd(lo, hi);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
  return _mm_cvtsd_f64(h);
}

inline __m256 silu_times(__m256 g, __m256 u) {
  const __m256 e = expf_ggml(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

// Adds 16 f32 values (v0 then v1) to the 16 double lanes of ref::layernorm's (and
// ref::rmsnorm's) order:
// acc[0] holds lanes 0-3, acc[1] 4-7, acc[2] 8-11, acc[3] 12-15.
inline void add_to_lanes16(__m256 v0, __m256 v1, __m256d acc[4]) {
  acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v0)));
  acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)));
  acc[2] = _mm256_add_pd(acc[2], _mm256_cvtps_pd(_mm256_castps256_ps128(v1)));
  acc[3] = _mm256_add_pd(acc[3], _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1)));
}

// The 16 lanes folded in halves: l + (l + 8), l + (l + 4), l + (l + 2), l + (l + 1).
inline double fold_lanes16(const __m256d acc[4]) {
  const __m256d lanes0to3 = _mm256_add_pd(acc[0], acc[2]);
  const __m256d lanes4to7 = _mm256_add_pd(acc[1], acc[3]);
  const __m256d by4 = _mm256_add_pd(lanes0to3, lanes4to7);
  const __m128d by2 = _mm_add_pd(_mm256_castpd256_pd128(by4), _mm256_extractf128_pd(by4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(by2, _mm_unpackhi_pd(by2, by2)));
}

// The 16 values from p on (count of them real, the rest `fill`): elements 0-7 in lo,
// 8-15 in hi.
struct Block16 {
  __m256 lo, hi;
};

inline Block16 load_block16(const float* p, int64_t count, float fill) {
  return {count >= 8 ? _mm256_loadu_ps(p) : load_partial(p, count, fill),
          count >= 16 ? _mm256_loadu_ps(p + 8)
          : count > 8 ? load_partial(p + 8, count - 8, fill)
                      : _mm256_set1_ps(fill)};
}

// The 16 values from p on (count of them real, the rest `fill`) added to the lanes.
inline void add_block16(const float* p, int64_t count, float fill, __m256d acc[4]) {
  const Block16 v = load_block16(p, count, fill);
  add_to_lanes16(v.lo, v.hi, acc);
}

// (v - center)^2 of the 16 values from p on added to the lanes; padding is center itself
// (c - c = +0, adding nothing). Around a center of 0 these are the squares v * v bit for
// bit (v - 0 is v, -0 included), which is rmsnorm's sum.
inline void add_squares16(const float* p, int64_t count, __m256 center, __m256d acc[4]) {
  const Block16 v = load_block16(p, count, _mm256_cvtss_f32(center));
  const __m256 d0 = _mm256_sub_ps(v.lo, center);
  const __m256 d1 = _mm256_sub_ps(v.hi, center);
  add_to_lanes16(_mm256_mul_ps(d0, d0), _mm256_mul_ps(d1, d1), acc);
}

// ref::gelu_table()[f16 bits of x] widened to f32: a gather of the 32-bit word at entry
// idx (the table has one entry of padding after the last), its low half kept.
inline __m256 gelu_lookup(__m256 x, const uint16_t* table) {
  const __m256i idx = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
  const __m256i words =
      _mm256_i32gather_epi32(reinterpret_cast<const int*>(table), idx, sizeof(uint16_t));
  const __m256i low = _mm256_and_si256(words, _mm256_set1_epi32(0xffff));
  // packus works within 128-bit halves: [w0..w3 w0..w3 | w4..w7 w4..w7]; keep qwords 0, 2.
  const __m256i packed = _mm256_packus_epi32(low, low);
  return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0b1000)));
}

// ref::gelu lane for lane: x <= -10 gives +0, x >= 10 gives x, otherwise the table.
inline __m256 gelu8(__m256 x, const uint16_t* table) {
  const __m256 high = _mm256_cmp_ps(x, _mm256_set1_ps(10.0f), _CMP_GE_OQ);
  const __m256 low = _mm256_cmp_ps(x, _mm256_set1_ps(-10.0f), _CMP_LE_OQ);
  return _mm256_andnot_ps(low, _mm256_blendv_ps(gelu_lookup(x, table), x, high));
}

// ref::geglu lane for lane: g <= -10 gives +0 whatever u is, otherwise gelu(g) * u.
inline __m256 geglu8(__m256 g, __m256 u, const uint16_t* table) {
  const __m256 high = _mm256_cmp_ps(g, _mm256_set1_ps(10.0f), _CMP_GE_OQ);
  const __m256 low = _mm256_cmp_ps(g, _mm256_set1_ps(-10.0f), _CMP_LE_OQ);
  const __m256 gelu = _mm256_blendv_ps(gelu_lookup(g, table), g, high);
  return _mm256_andnot_ps(low, _mm256_mul_ps(gelu, u));
}

// ref::tanh_f32 lane for lane: both branches computed, the one the scalar takes selected.
inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign, x);
  const __m256 s = _mm256_mul_ps(a, a);
  __m256 p =
      _mm256_fmadd_ps(_mm256_set1_ps(-5.70498872745e-3f), s, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 near_zero = _mm256_fmadd_ps(p, _mm256_mul_ps(s, a), a);
  // minps(a, 10) is a < 10 ? a : 10, as the scalar clamp.
  const __m256 e =
      expf_ggml(_mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_min_ps(a, _mm256_set1_ps(10.0f))));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 far = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  const __m256 r =
      _mm256_blendv_ps(far, near_zero, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  const __m256 signed_r = _mm256_or_ps(_mm256_andnot_ps(sign, r), _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(signed_r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

}  // namespace

void exp(const float* x, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) store_partial(out + i, exp8(load_partial(x + i, n - i, 0.0f)), n - i);
}

// ref::rmsnorm's order: the squares summed in 16 double lanes folded in halves, then
// (x * scale) * weight lane by lane.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                    _mm256_setzero_pd()};
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) add_squares16(x + i, n - i, zero, acc);
  const auto mean = static_cast<float>(fold_lanes16(acc) / static_cast<double>(n));
  const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(mean + eps));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), scale);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)));
  }
  if (i < n) {
    const __m256 v = _mm256_mul_ps(load_partial(x + i, n - i, 0.0f), scale);
    store_partial(out + i, _mm256_mul_ps(v, load_partial(weight + i, n - i, 0.0f)), n - i);
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  if (i < n) vmax = _mm256_max_ps(vmax, load_partial(x + i, n - i, -INFINITY));
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const __m256 max = _mm256_set1_ps(_mm_cvtss_f32(m));
  __m256d lo = _mm256_setzero_pd();
  __m256d hi = _mm256_setzero_pd();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), max));
    _mm256_storeu_ps(x + i, e);
    add_to_double(e, lo, hi);
  }
  if (i < n) {
    // Padding of -inf gives e = 0, adding nothing to the sum.
    const __m256 e = exp8(_mm256_sub_ps(load_partial(x + i, n - i, -INFINITY), max));
    store_partial(x + i, e, n - i);
    add_to_double(e, lo, hi);
  }
  const __m256 scale = _mm256_set1_ps(static_cast<float>(1.0 / hsum(lo, hi)));
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), scale));
  for (; i < n; ++i) x[i] *= _mm256_cvtss_f32(scale);
}

void swiglu(float* gate, const float* up, int64_t n) {
  // Blocks of 16 through the vectorised exponential, the rest through libm's expf, as the
  // reference engine's AVX-512 build splits the row.
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int64_t h = i; h < i + 16; h += 8) {
      _mm256_storeu_ps(gate + h, silu_times(_mm256_loadu_ps(gate + h), _mm256_loadu_ps(up + h)));
    }
  }
  kernels::ref::swiglu_tail(gate + i, up + i, n - i);
}

void add(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  }
  for (; i < n; ++i) y[i] += x[i];
}

// ref::layernorm's order: 16 double lanes folded in halves, then lane-wise f32 steps.
void layernorm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
               float* out) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                    _mm256_setzero_pd()};
  for (int64_t i = 0; i < n; i += 16) add_block16(x + i, n - i, 0.0f, acc);
  const auto mean = static_cast<float>(fold_lanes16(acc) / static_cast<double>(n));
  const __m256 vmean = _mm256_set1_ps(mean);
  for (auto& a : acc) a = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) add_squares16(x + i, n - i, vmean, acc);
  const auto variance = static_cast<float>(fold_lanes16(acc) / static_cast<double>(n));
  const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(variance + eps));
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t count = std::min<int64_t>(8, n - i);
    const bool full = count == 8;
    __m256 v = _mm256_mul_ps(
        _mm256_sub_ps(full ? _mm256_loadu_ps(x + i) : load_partial(x + i, count, 0.0f), vmean),
        scale);
    if (weight != nullptr) {
      v = _mm256_mul_ps(v,
                        full ? _mm256_loadu_ps(weight + i) : load_partial(weight + i, count, 0.0f));
    }
    if (bias != nullptr) {
      v = _mm256_add_ps(v, full ? _mm256_loadu_ps(bias + i) : load_partial(bias + i, count, 0.0f));
    }
    if (full) {
      _mm256_storeu_ps(out + i, v);
    } else {
      store_partial(out + i, v, count);
    }
  }
}

void gelu(float* x, int64_t n) {
  const uint16_t* table = kernels::ref::gelu_table();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i), table));
  if (i < n) store_partial(x + i, gelu8(load_partial(x + i, n - i, 0.0f), table), n - i);
}

void geglu(float* gate, const float* up, int64_t n) {
  const uint16_t* table = kernels::ref::gelu_table();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(gate + i, geglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i), table));
  }
  if (i < n) {
    const __m256 r =
        geglu8(load_partial(gate + i, n - i, 0.0f), load_partial(up + i, n - i, 0.0f), table);
    store_partial(gate + i, r, n - i);
  }
}

void softcap(float* x, int64_t n, float cap) {
  const __m256 vcap = _mm256_set1_ps(cap);
  const __m256 inv_cap = _mm256_set1_ps(1.0f / cap);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(x + i,
                     _mm256_mul_ps(vcap, tanh8(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv_cap))));
  }
  if (i < n) {
    const __m256 v = load_partial(x + i, n - i, 0.0f);
    store_partial(x + i, _mm256_mul_ps(vcap, tanh8(_mm256_mul_ps(v, inv_cap))), n - i);
  }
}

}  // namespace loom::kernels::detail::avx2
