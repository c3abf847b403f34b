// AVX2 rotations of rope.h (compiled with LOOM_AVX2_FLAGS). Each element is rotated with
// the scalar reference's operations (two products, one add or subtract, no FMA), so the
// result is ref::rope_rotate / ref::rope_rotate_neox bit for bit; the pairs left over
// after the last full vector take the reference's own loop.
#include <immintrin.h>

#include "kernels/ops_kernels.h"
#include "kernels/rope.h"

namespace loom::kernels::detail::avx2 {

// Four adjacent pairs per vector: x = [x0 x1 ...], cos_sin = [c s ...];
// even lanes x0 c - x1 s, odd lanes x1 c + x0 s (= x0 s + x1 c: addition commutes).
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t n_pairs = n_rot / 2;
  int64_t i = 0;
  for (; i + 8 <= 2 * n_pairs; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 cs = _mm256_loadu_ps(cos_sin + i);
    const __m256 c = _mm256_moveldup_ps(cs);
    const __m256 s = _mm256_movehdup_ps(cs);
    const __m256 swapped = _mm256_permute_ps(v, 0b10110001);
    _mm256_storeu_ps(x + i, _mm256_addsub_ps(_mm256_mul_ps(v, c), _mm256_mul_ps(swapped, s)));
  }
  kernels::ref::rope_rotate(x + i, n_rot - i, cos_sin + i);
}

// Eight pairs (x[i], x[i + half]) per step; the cos/sin pairs are split into a cos vector
// and a sin vector.
void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    const __m256 a = _mm256_loadu_ps(cos_sin + 2 * i);      // c0 s0 c1 s1 | c2 s2 c3 s3
    const __m256 b = _mm256_loadu_ps(cos_sin + 2 * i + 8);  // c4 s4 c5 s5 | c6 s6 c7 s7
    // shuffle_ps works within 128-bit halves: [c0 c1 c4 c5 | c2 c3 c6 c7], then reorder.
    const __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0b11011000));
    const __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0b11011000));
    const __m256 x0 = _mm256_loadu_ps(x + i);
    const __m256 x1 = _mm256_loadu_ps(x + i + half);
    _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
    _mm256_storeu_ps(x + i + half, _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
  }
  for (; i < half; ++i) {  // as ref::rope_rotate_neox
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    const float x0 = x[i];
    const float x1 = x[i + half];
    x[i] = x0 * c - x1 * s;
    x[i + half] = x0 * s + x1 * c;
  }
}

}  // namespace loom::kernels::detail::avx2
