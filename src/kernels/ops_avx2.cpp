// AVX2 versions of the element-wise ops (compiled with -mavx2 -mfma -mf16c). Element i's
// result never depends on where i falls relative to a vector boundary: partial vectors
// at the end go through the same vector code via a padded buffer, so the value of an
// element does not change with the length of the array it sits in (a batch).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/ops_kernels.h"

namespace loom::kernels::detail::avx2 {
namespace {

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

// e^x as ggml's vectorised ggml_v_expf computes it in its AVX-512 build (the reference
// engine's SwiGLU uses it): x = n ln2 + b, a degree-5 polynomial in b with the constant 1
// folded in, scaled by 2^n. Lane for lane the same operations as ref::expf_ggml.
inline __m256 expf_ggml(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256i exponent =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 result = _mm256_mul_ps(j, _mm256_castsi256_ps(exponent));
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const int far = _mm256_movemask_ps(_mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ));
  if (far != 0) {  // 2^n is not a normal float: scale lane by lane, as the reference does
    alignas(32) float jl[8], nl[8], out[8];
    _mm256_store_ps(jl, j);
    _mm256_store_ps(nl, n);
    _mm256_store_ps(out, result);
    for (int l = 0; l < 8; ++l) {
      if (far & (1 << l)) out[l] = std::ldexp(jl[l], static_cast<int>(nl[l]));
    }
    result = _mm256_load_ps(out);
  }
  return result;
}

inline __m256 silu_times(__m256 g, __m256 u) {
  const __m256 e = expf_ggml(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

}  // namespace

void exp(const float* x, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) store_partial(out + i, exp8(load_partial(x + i, n - i, 0.0f)), n - i);
}

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m256d lo = _mm256_setzero_pd();
  __m256d hi = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    add_to_double(_mm256_mul_ps(v, v), lo, hi);
  }
  if (i < n) {
    const __m256 v = load_partial(x + i, n - i, 0.0f);
    add_to_double(_mm256_mul_ps(v, v), lo, hi);
  }
  const auto mean = static_cast<float>(hsum(lo, hi) / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  const __m256 vscale = _mm256_set1_ps(scale);
  i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)));
  }
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
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

}  // namespace loom::kernels::detail::avx2
