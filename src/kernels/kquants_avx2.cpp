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

namespace {

// A block of one weight row unpacked for several tokens: 256 unsigned quants, the 16-bit
// scale of each 32 of them (one per 128-bit half for Q6_K), and what the block's float
// terms need. Prefill unpacks a block once and takes it to every token of a group.
struct alignas(32) UnpackedBlock {
  uint8_t q[kQK_K];
  int16_t scale[8][16];
  int16_t aux[16];  // Q4_K/Q5_K: the 8 mins; Q6_K: the 16 scales
  uint16_t d;
  uint16_t dmin;
};

inline void store(void* p, __m256i v) {
  _mm256_store_si256(static_cast<__m256i*>(p), v);
}

void unpack(const BlockQ4_K& b, UnpackedBlock& u) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min(b.scales, j, &sc, &m);
    store(u.scale[j], _mm256_set1_epi16(sc));
    u.aux[j] = m;
  }
  for (int c = 0; c < 4; ++c) {
    const __m256i q = load(b.qs + 32 * c);
    store(u.q + 64 * c, _mm256_and_si256(q, low4));
    store(u.q + 64 * c + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), low4));
  }
  u.d = b.d;
  u.dmin = b.dmin;
}

void unpack(const BlockQ5_K& b, UnpackedBlock& u) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min(b.scales, j, &sc, &m);
    store(u.scale[j], _mm256_set1_epi16(sc));
    u.aux[j] = m;
  }
  const __m256i qh = load(b.qh);
  for (int c = 0; c < 4; ++c) {
    const __m256i q = load(b.qs + 32 * c);
    const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
    const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
    store(u.q + 64 * c, _mm256_or_si256(_mm256_and_si256(q, low4), _mm256_slli_epi16(h0, 4)));
    store(u.q + 64 * c + 32, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4),
                                             _mm256_slli_epi16(h1, 4)));
  }
  u.d = b.d;
  u.dmin = b.dmin;
}

void unpack(const BlockQ6_K& b, UnpackedBlock& u) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  for (int i = 0; i < 16; ++i) u.aux[i] = b.scales[i];
  for (int half = 0; half < 2; ++half) {
    const __m256i ql0 = load(b.ql + 64 * half);
    const __m256i ql1 = load(b.ql + 64 * half + 32);
    const __m256i qh = load(b.qh + 32 * half);
    uint8_t* q = u.q + 128 * half;
    store(q, _mm256_or_si256(_mm256_and_si256(ql0, low4),
                             _mm256_slli_epi16(_mm256_and_si256(qh, two_bits), 4)));
    store(q + 32, _mm256_or_si256(
                      _mm256_and_si256(ql1, low4),
                      _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two_bits), 4)));
    store(q + 64, _mm256_or_si256(
                      _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                      _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two_bits), 4)));
    store(q + 96, _mm256_or_si256(
                      _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                      _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two_bits), 4)));
    for (int k = 0; k < 4; ++k) {
      const int s = 8 * half + 2 * k;
      store(u.scale[4 * half + k],
            _mm256_set_m128i(_mm_set1_epi16(b.scales[s + 1]), _mm_set1_epi16(b.scales[s])));
    }
  }
  u.d = b.d;
  u.dmin = 0;
}

// Sum over the block of scale * q * x: exact, as in dot_k.
inline int32_t block_dot(const UnpackedBlock& u, const int8_t* xq) {
  __m256i acc = _mm256_setzero_si256();
  for (int j = 0; j < 8; ++j) {
    const __m256i q = _mm256_load_si256(reinterpret_cast<const __m256i*>(u.q + 32 * j));
    const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(u.scale[j]));
    acc = _mm256_add_epi32(acc, scaled_dot(q, load(xq + 32 * j), s));
  }
  return hsum_epi32(acc);
}

// The block's float term, written exactly as the scalar dot products write it.
template <DType kType>
inline float block_term(const UnpackedBlock& u, int32_t dot, float xd, const int32_t* xs,
                        const float* f16) {
  if constexpr (kType == DType::Q6_K) {
    int32_t sum_bias = 0;
    for (int i = 0; i < 16; ++i) sum_bias += u.aux[i] * xs[i];
    const int32_t sumi = dot - 32 * sum_bias;
    return (f16[u.d] * xd) * static_cast<float>(sumi);
  } else {
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) summ += u.aux[j] * (xs[2 * j] + xs[2 * j + 1]);
    const float dy = f16[u.d] * xd;
    const float my = f16[u.dmin] * xd;
    return dy * static_cast<float>(dot) - my * static_cast<float>(summ);
  }
}

// Tokens that share one unpacking of a weight block.
constexpr int64_t kTokenGroup = 8;

template <DType kType, typename Block>
void prefill_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                  float* y) {
  const int64_t n = w.cols;
  const int64_t nb = n / kQK_K;
  const int64_t stride = row_bytes(w.type, n);
  const auto* base = static_cast<const uint8_t*>(w.data);
  const float* f16 = fp16_table();
  UnpackedBlock u;
  for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kTokenGroup) {
    const int64_t nt = std::min(kTokenGroup, a.n_tokens - t0);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const auto* blocks = reinterpret_cast<const Block*>(base + r * stride);
      float sum[kTokenGroup] = {};
      for (int64_t b = 0; b < nb; ++b) {
        unpack(blocks[b], u);
        for (int64_t t = 0; t < nt; ++t) {
          const int64_t token = t0 + t;
          const int32_t dot = block_dot(u, a.quants + token * n + b * kQK_K);
          // The same float additions, in block order, as the scalar dot.
          sum[t] += block_term<kType>(u, dot, a.scales[token * nb + b],
                                      a.sums + token * (n / 16) + b * (kQK_K / 16), f16);
        }
      }
      for (int64_t t = 0; t < nt; ++t) y[(t0 + t) * w.rows + r] = sum[t];
    }
  }
}

}  // namespace

// Decode takes each row once, dot by dot; prefill unpacks each weight block once for a
// group of tokens. Both give every element the same bits as the scalar dot.
void k_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
            float* y) {
  const int64_t n = w.cols;
  if (a.n_tokens > 1) {
    switch (w.type) {
      case DType::Q4_K:
        return prefill_rows<DType::Q4_K, BlockQ4_K>(w, row_begin, row_end, a, y);
      case DType::Q5_K:
        return prefill_rows<DType::Q5_K, BlockQ5_K>(w, row_begin, row_end, a, y);
      case DType::Q6_K:
        return prefill_rows<DType::Q6_K, BlockQ6_K>(w, row_begin, row_end, a, y);
      default:
        return;
    }
  }
  const int64_t stride = row_bytes(w.type, n);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    y[r] = dot_k(w.type, base + r * stride, a.quants, a.scales, a.sums, n);
  }
}

}  // namespace loom::kernels::detail::avx2
