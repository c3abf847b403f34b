// AVX-512 rotations of rope.h (compiled with LOOM_AVX512_FLAGS). Each element is rotated
// with the scalar reference's operations (two products, one add or subtract, no FMA), so
// the result is ref::rope_rotate / ref::rope_rotate_neox bit for bit; a partial vector at
// the end is a masked load and store of the same code.
#include <immintrin.h>

#include "kernels/ops_kernels.h"
#include "kernels/rope.h"

namespace loom::kernels::detail::avx512 {
namespace {

inline __mmask16 first(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

}  // namespace

// Eight adjacent pairs per vector: even lanes x0 c - x1 s, odd lanes x1 c + x0 s
// (= x0 s + x1 c: addition commutes).
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t n = n_rot / 2 * 2;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 cs = _mm512_maskz_loadu_ps(m, cos_sin + i);
    const __m512 a = _mm512_mul_ps(v, _mm512_moveldup_ps(cs));
    const __m512 b = _mm512_mul_ps(_mm512_permute_ps(v, 0b10110001), _mm512_movehdup_ps(cs));
    // a + b everywhere, then a - b in the even lanes.
    _mm512_mask_storeu_ps(x + i, m, _mm512_mask_sub_ps(_mm512_add_ps(a, b), 0x5555, a, b));
  }
}

// Sixteen pairs (x[i], x[i + half]) per step; the cos/sin pairs are split into a cos vector
// and a sin vector.
void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t i = 0; i < half; i += 16) {
    const int64_t count = half - i;
    const __mmask16 m = first(count);
    const __m512 a = _mm512_maskz_loadu_ps(first(2 * count), cos_sin + 2 * i);
    const __m512 b = count > 8 ? _mm512_maskz_loadu_ps(first(2 * count - 16), cos_sin + 2 * i + 16)
                               : _mm512_setzero_ps();
    const __m512 c = _mm512_permutex2var_ps(a, even, b);
    const __m512 s = _mm512_permutex2var_ps(a, odd, b);
    const __m512 x0 = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 x1 = _mm512_maskz_loadu_ps(m, x + i + half);
    _mm512_mask_storeu_ps(x + i, m, _mm512_sub_ps(_mm512_mul_ps(x0, c), _mm512_mul_ps(x1, s)));
    _mm512_mask_storeu_ps(x + i + half, m,
                          _mm512_add_ps(_mm512_mul_ps(x0, s), _mm512_mul_ps(x1, c)));
  }
}

}  // namespace loom::kernels::detail::avx512
