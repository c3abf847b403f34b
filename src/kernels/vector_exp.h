// Vector exponentials for the SIMD files that include them, each width defined only when
// the file is compiled for its instruction set: e^x as ref::expf_ggml computes it (the
// reference engine's vectorised ggml_v_expf), and as ref::exp_via_double does (libm's
// expf to the last bit but for its rare misroundings), lane for lane.
#pragma once

#include <immintrin.h>

#include <cmath>

#include "kernels/exp_double.h"

namespace loom::kernels::detail::simd {

#if defined(__AVX2__) && defined(__FMA__)
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

// exp_via_double for four doubles (floats widened): the same operations lane for lane,
// 2^n put in the exponent bits (exact, as ldexp is for a normal double).
inline __m256d exp_via_double(__m256d x) {
  using namespace exp_double;
  const __m256d z = _mm256_fmadd_pd(x, _mm256_set1_pd(kLog2e), _mm256_set1_pd(kShifter));
  const __m256d n = _mm256_sub_pd(z, _mm256_set1_pd(kShifter));
  const __m256d r =
      _mm256_fnmadd_pd(n, _mm256_set1_pd(kLn2Lo), _mm256_fnmadd_pd(n, _mm256_set1_pd(kLn2Hi), x));
  __m256d p = _mm256_set1_pd(kTaylor[0]);
  for (int k = 1; k < kTerms; ++k) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kTaylor[k]));
  // z = 1.5 * 2^52 + n holds n in its low bits: n + 1023 shifted into the exponent field.
  const __m256i two_n =
      _mm256_slli_epi64(_mm256_add_epi64(_mm256_castpd_si256(z), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(two_n));
}

// exp_via_double for eight floats (each >= exp_double::kFloor).
inline __m256 exp_via_double(__m256 x) {
  const __m128 lo = _mm256_cvtpd_ps(exp_via_double(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
  const __m128 hi = _mm256_cvtpd_ps(exp_via_double(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
  return _mm256_set_m128(hi, lo);
}
#endif

#if defined(__AVX512F__)
// e^x as ref::expf_ggml, for |x| <= 87 (2^n is then a normal float, so scaling by it in
// the exponent bits is exact, as ldexp is).
inline __m512 expf_ggml(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(
          _mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
          _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512i exponent =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(j, _mm512_castsi512_ps(exponent));
}

// exp_via_double for eight doubles, as the four-lane version.
inline __m512d exp_via_double(__m512d x) {
  using namespace exp_double;
  const __m512d z = _mm512_fmadd_pd(x, _mm512_set1_pd(kLog2e), _mm512_set1_pd(kShifter));
  const __m512d n = _mm512_sub_pd(z, _mm512_set1_pd(kShifter));
  const __m512d r =
      _mm512_fnmadd_pd(n, _mm512_set1_pd(kLn2Lo), _mm512_fnmadd_pd(n, _mm512_set1_pd(kLn2Hi), x));
  __m512d p = _mm512_set1_pd(kTaylor[0]);
  for (int k = 1; k < kTerms; ++k) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kTaylor[k]));
  const __m512i two_n =
      _mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(z), _mm512_set1_epi64(1023)), 52);
  return _mm512_mul_pd(p, _mm512_castsi512_pd(two_n));
}

// exp_via_double for sixteen floats (each >= exp_double::kFloor).
inline __m512 exp_via_double(__m512 x) {
  const __m256 lo = _mm512_cvtpd_ps(exp_via_double(_mm512_cvtps_pd(_mm512_castps512_ps256(x))));
  const __m256 hi = _mm512_cvtpd_ps(exp_via_double(
      _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))));
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
#endif

}  // namespace loom::kernels::detail::simd
