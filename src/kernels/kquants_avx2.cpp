// AVX2 dot products of K-quant rows with Q8_K activations (compiled with -mavx2 -mfma).
// The integer part of each block is exact (maddubs of the unsigned quants with the
// signed activations, then madd with the sub-block scales), so with the block's float
// terms written as in the scalar twin, every result is bit-identical to it.
#include <immintrin.h>

#include <algorithm>

#include "kernels/kquants.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail::avx2 {
namespace {

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i load(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// 32 unsigned quants times 32 activations, weighted by a 16-bit scale: 8 int32 lanes.
inline __m256i scaled_dot(__m256i q, __m256i x, __m256i scale) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), scale);
}

float dot_q4_k(const BlockQ4_K* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t nb,
               const float* f16) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b, xq += kQK_K, xs += kQK_K / 16) {
    uint8_t sc[8], m[8];
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) {
      unpack_scale_min(w[b].scales, j, &sc[j], &m[j]);
      summ += m[j] * (xs[2 * j] + xs[2 * j + 1]);
    }
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load(w[b].qs + 32 * c);
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      acc = _mm256_add_epi32(acc, scaled_dot(lo, load(xq + 64 * c), _mm256_set1_epi16(sc[2 * c])));
      acc = _mm256_add_epi32(
          acc, scaled_dot(hi, load(xq + 64 * c + 32), _mm256_set1_epi16(sc[2 * c + 1])));
    }
    const int32_t sumi = hsum_epi32(acc);
    const float dy = f16[w[b].d] * xd[b];
    const float my = f16[w[b].dmin] * xd[b];
    sum += dy * static_cast<float>(sumi) - my * static_cast<float>(summ);
  }
  return sum;
}

float dot_q5_k(const BlockQ5_K* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t nb,
               const float* f16) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b, xq += kQK_K, xs += kQK_K / 16) {
    uint8_t sc[8], m[8];
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) {
      unpack_scale_min(w[b].scales, j, &sc[j], &m[j]);
      summ += m[j] * (xs[2 * j] + xs[2 * j + 1]);
    }
    const __m256i qh = load(w[b].qh);
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load(w[b].qs + 32 * c);
      const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
      const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low4), _mm256_slli_epi16(h0, 4));
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4),
                                         _mm256_slli_epi16(h1, 4));
      acc = _mm256_add_epi32(acc, scaled_dot(lo, load(xq + 64 * c), _mm256_set1_epi16(sc[2 * c])));
      acc = _mm256_add_epi32(
          acc, scaled_dot(hi, load(xq + 64 * c + 32), _mm256_set1_epi16(sc[2 * c + 1])));
    }
    const int32_t sumi = hsum_epi32(acc);
    const float dy = f16[w[b].d] * xd[b];
    const float my = f16[w[b].dmin] * xd[b];
    sum += dy * static_cast<float>(sumi) - my * static_cast<float>(summ);
  }
  return sum;
}

// q - 32 is split as q * x - 32 * x: q in [0, 64) is maddubs' unsigned operand, and the
// 32 * x part comes from the activation sums of each 16 values.
float dot_q6_k(const BlockQ6_K* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t nb,
               const float* f16) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b, xq += kQK_K, xs += kQK_K / 16) {
    const int8_t* scales = w[b].scales;
    int32_t sum_bias = 0;
    for (int i = 0; i < kQK_K / 16; ++i) sum_bias += scales[i] * xs[i];
    __m256i acc = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = load(w[b].ql + 64 * half);
      const __m256i ql1 = load(w[b].ql + 64 * half + 32);
      const __m256i qh = load(w[b].qh + 32 * half);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4),
                          _mm256_slli_epi16(_mm256_and_si256(qh, two_bits), 4)),
          _mm256_or_si256(
              _mm256_and_si256(ql1, low4),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two_bits), 4)),
          _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two_bits), 4)),
          _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two_bits), 4)),
      };
      for (int k = 0; k < 4; ++k) {
        const int s = 8 * half + 2 * k;
        const __m256i scale =
            _mm256_set_m128i(_mm_set1_epi16(scales[s + 1]), _mm_set1_epi16(scales[s]));
        acc = _mm256_add_epi32(acc, scaled_dot(q[k], load(xq + 128 * half + 32 * k), scale));
      }
    }
    const int32_t sumi = hsum_epi32(acc) - 32 * sum_bias;
    sum += (f16[w[b].d] * xd[b]) * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace

float dot_k(DType type, const uint8_t* row, const int8_t* xq, const float* xd, const int32_t* xs,
            int64_t n) {
  const int64_t nb = n / kQK_K;
  static const float* const f16 = fp16_table();
  switch (type) {
    case DType::Q4_K:
      return dot_q4_k(reinterpret_cast<const BlockQ4_K*>(row), xq, xd, xs, nb, f16);
    case DType::Q5_K:
      return dot_q5_k(reinterpret_cast<const BlockQ5_K*>(row), xq, xd, xs, nb, f16);
    case DType::Q6_K:
      return dot_q6_k(reinterpret_cast<const BlockQ6_K*>(row), xq, xd, xs, nb, f16);
    default:
      return 0.0f;
  }
}

// Rows are taken in blocks that stay in cache while every token passes over them.
void k_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
            float* y) {
  constexpr int64_t kRowBlock = 8;
  const int64_t n = w.cols;
  const int64_t stride = row_bytes(w.type, n);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
    const int64_t r1 = std::min(row_end, r0 + kRowBlock);
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      const int8_t* xq = a.quants + t * n;
      const float* xd = a.scales + t * (n / kQK_K);
      const int32_t* xs = a.sums + t * (n / 16);
      for (int64_t r = r0; r < r1; ++r)
        y[t * w.rows + r] = dot_k(w.type, base + r * stride, xq, xd, xs, n);
    }
  }
}

}  // namespace loom::kernels::detail::avx2
