// Packed K-quant matmul with AVX2 (compiled with -mavx2 -mfma -mf16c): the AVX-512
// kernel's arithmetic (matmul_kquants_packed_avx512.cpp) on half panels of 8 rows, one row
// per int32 lane. Integer sums are exact: maddubs of the unsigned quants with 4 broadcast
// activations gives int16 pairs, summed only as far as int16 holds them (Q4_K and Q5_K: 4
// vectors, at most 4 * 2 * 31 * 127; Q6_K: 2 vectors), then madd widens to int32 (Q4_K,
// Q5_K: weighted by the sub-block scale in the same instruction).
// The float terms are the scalar dot_k's, so every path gives the same bits.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/kquants_packed.h"
#include "kernels/matmul_kernels.h"
#include "kernels/packed_avx2_common.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail::avx2 {
namespace {

constexpr int kMaxTokens = 4;

inline __m256i load(const uint8_t* p) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
}

// 8 scale bytes (one per row of the half panel) widened to int32 lanes.
inline __m256i widen_u8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i widen_i8(const uint8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// The 8 quant vectors of a 32-element group (this half's 32 bytes of each chunk).
inline void load_nibbles(const uint8_t* chunks, __m256i (&q)[8]) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  for (int g = 0; g < 4; ++g) {
    const __m256i packed = load(chunks + 64 * g);
    q[g] = _mm256_and_si256(packed, low);
    q[g + 4] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low);
  }
}

// Sum over vectors [v0, v1) of maddubs(q[v], x[4v' ...]) in int16, widened to int32 by a
// madd with `weights`: int16 pairs (w, w) in each int32 lane, so lane i gets w_i times
// its sum (ones for the plain sum; a row's sub-block scale saves a separate mullo).
template <int V0, int V1>
inline __m256i dot_range(const __m256i (&q)[8], const int8_t* x,
                         __m256i weights = _mm256_set1_epi16(1)) {
  const auto offset = [](int v) { return v < 4 ? 4 * v : 16 + 4 * (v - 4); };
  __m256i s16 = _mm256_maddubs_epi16(q[V0], broadcast4(x + offset(V0)));
  for (int v = V0 + 1; v < V1; ++v) {
    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(q[v], broadcast4(x + offset(v))));
  }
  return _mm256_madd_epi16(s16, weights);
}

// Each int32 lane's value v (0 <= v < 2^15) as the int16 pair (v, v), for dot_range's
// weights.
inline __m256i pair16(__m256i lanes) {
  return _mm256_or_si256(lanes, _mm256_slli_epi32(lanes, 16));
}

template <DType kType, int T>
void q45_half_panel(const PackedWeights& p, const uint8_t* panel, int half, const Activations& a,
                    int64_t t0, float* y, int n_rows) {
  constexpr int64_t kSubBytes = kType == DType::Q5_K ? 320 : 256;
  const int64_t nb = p.blocks;
  const int64_t cols = p.cols;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* rec = panel + b * p.block_quant_bytes;
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* sub = rec + 320 + kSubBytes * j + 32 * half;
      if (half == 0) prefetch_panel_ahead<kSubBytes / 64>(sub);
      // The 6-bit scales go into the madds that widen the int16 sums: sc * (lo + hi) as
      // sc * lo + sc * hi, exact in int32.
      const __m256i sc = pair16(widen_u8(rec + 64 + 16 * j + 8 * half));
      if constexpr (kType == DType::Q5_K) {
        __m256i q[8];
        load_nibbles(sub, q);
        const __m256i h = load(sub + 256);
        for (int v = 0; v < 8; ++v) {
          const __m256i moved = v <= 4 ? _mm256_slli_epi16(h, 4 - v) : _mm256_srli_epi16(h, v - 4);
          q[v] = _mm256_or_si256(q[v], _mm256_and_si256(moved, bit4));
        }
        // |int16 sum| <= 4 * 2 * 31 * 127.
        for (int t = 0; t < T; ++t) {
          const int8_t* x = a.quants + (t0 + t) * cols + b * kQK_K + 32 * j;
          sumi[t] = _mm256_add_epi32(
              sumi[t], _mm256_add_epi32(dot_range<0, 4>(q, x, sc), dot_range<4, 8>(q, x, sc)));
        }
      } else {
        // Low nibbles (elements 0-15) for every token, then high ones (16-31): 4 quant
        // vectors live at a time rather than 8 leaves more of the 16 registers to the T
        // sums (fewer spills: Q4_K ffn_up x 64 tokens, 2 threads, 5.1 -> 4.9 ms). An
        // int16 sum is then at most 4 * 2 * 15 * 127.
        const __m256i low = _mm256_set1_epi8(0x0f);
        for (int nibble = 0; nibble < 2; ++nibble) {
          __m256i q[4];
          for (int g = 0; g < 4; ++g) {
            const __m256i packed = load(sub + 64 * g);
            q[g] = _mm256_and_si256(nibble == 0 ? packed : _mm256_srli_epi16(packed, 4), low);
          }
          for (int t = 0; t < T; ++t) {
            const int8_t* x = a.quants + (t0 + t) * cols + b * kQK_K + 32 * j + 16 * nibble;
            __m256i s16 = _mm256_maddubs_epi16(q[0], broadcast4(x));
            for (int g = 1; g < 4; ++g) {
              s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(q[g], broadcast4(x + 4 * g)));
            }
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(s16, sc));
          }
        }
      }
    }
    __m256i mins[4];
    for (int k = 0; k < 4; ++k) {
      mins[k] = _mm256_cvtepu8_epi16(
          _mm_load_si128(reinterpret_cast<const __m128i*>(rec + 192 + 32 * k + 16 * half)));
    }
    const __m256 dw =
        _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 16 * half)));
    const __m256 dmw =
        _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 32 + 16 * half)));
    for (int t = 0; t < T; ++t) {
      const int64_t token = t0 + t;
      const int32_t* xs = a.sums + token * (cols / 16) + b * (kQK_K / 16);
      __m256i summ = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        const auto lo = static_cast<uint16_t>(xs[4 * k] + xs[4 * k + 1]);
        const auto hi = static_cast<uint16_t>(xs[4 * k + 2] + xs[4 * k + 3]);
        const auto pair = static_cast<int32_t>(static_cast<uint32_t>(lo) | (uint32_t{hi} << 16));
        summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mins[k], _mm256_set1_epi32(pair)));
      }
      const __m256 xd = _mm256_set1_ps(a.scales[token * nb + b]);
      const __m256 dy = _mm256_mul_ps(dw, xd);
      const __m256 my = _mm256_mul_ps(dmw, xd);
      const __m256 term = _mm256_sub_ps(_mm256_mul_ps(dy, _mm256_cvtepi32_ps(sumi[t])),
                                        _mm256_mul_ps(my, _mm256_cvtepi32_ps(summ)));
      acc[t] = _mm256_add_ps(acc[t], term);
    }
  }
  for (int t = 0; t < T; ++t) store_rows(y + (t0 + t) * p.rows, acc[t], n_rows);
}

template <int T>
void q6_half_panel(const PackedWeights& p, const uint8_t* panel, int half, const Activations& a,
                   int64_t t0, float* y, int n_rows) {
  const int64_t nb = p.blocks;
  const int64_t cols = p.cols;
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* rec = panel + b * p.block_quant_bytes;
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const uint8_t* group = rec + 320 + 384 * k + 32 * half;
      if (half == 0) prefetch_panel_ahead<6>(group);
      __m256i q[8];
      load_nibbles(group, q);
      const __m256i h0 = load(group + 256);
      const __m256i h1 = load(group + 320);
      for (int g = 0; g < 4; ++g) {
        const __m256i m0 = g <= 2 ? _mm256_slli_epi16(h0, 4 - 2 * g) : _mm256_srli_epi16(h0, 2);
        const __m256i m1 = g <= 2 ? _mm256_slli_epi16(h1, 4 - 2 * g) : _mm256_srli_epi16(h1, 2);
        q[g] = _mm256_or_si256(q[g], _mm256_and_si256(m0, bits45));
        q[g + 4] = _mm256_or_si256(q[g + 4], _mm256_and_si256(m1, bits45));
      }
      const __m256i sc0 = widen_i8(rec + 64 + 16 * (2 * k) + 8 * half);
      const __m256i sc1 = widen_i8(rec + 64 + 16 * (2 * k + 1) + 8 * half);
      for (int t = 0; t < T; ++t) {
        const int64_t token = t0 + t;
        const int8_t* x = a.quants + token * cols + b * kQK_K + 32 * k;
        const int32_t* xs = a.sums + token * (cols / 16) + b * (kQK_K / 16) + 2 * k;
        const __m256i s0 =
            _mm256_add_epi32(_mm256_add_epi32(dot_range<0, 2>(q, x), dot_range<2, 4>(q, x)),
                             _mm256_set1_epi32(-32 * xs[0]));
        const __m256i s1 =
            _mm256_add_epi32(_mm256_add_epi32(dot_range<4, 6>(q, x), dot_range<6, 8>(q, x)),
                             _mm256_set1_epi32(-32 * xs[1]));
        sumi[t] = _mm256_add_epi32(
            sumi[t], _mm256_add_epi32(_mm256_mullo_epi32(s0, sc0), _mm256_mullo_epi32(s1, sc1)));
      }
    }
    const __m256 dw =
        _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 16 * half)));
    for (int t = 0; t < T; ++t) {
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(a.scales[(t0 + t) * nb + b]));
      acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(d, _mm256_cvtepi32_ps(sumi[t])));
    }
  }
  for (int t = 0; t < T; ++t) store_rows(y + (t0 + t) * p.rows, acc[t], n_rows);
}

using HalfPanelTable = HalfPanelTableOf<kMaxTokens>;

template <int... Ts>
constexpr HalfPanelTable make_q4k_table(std::integer_sequence<int, Ts...>) {
  return {&q45_half_panel<DType::Q4_K, Ts + 1>...};
}
template <int... Ts>
constexpr HalfPanelTable make_q5k_table(std::integer_sequence<int, Ts...>) {
  return {&q45_half_panel<DType::Q5_K, Ts + 1>...};
}
template <int... Ts>
constexpr HalfPanelTable make_q6k_table(std::integer_sequence<int, Ts...>) {
  return {&q6_half_panel<Ts + 1>...};
}

constexpr auto kTokens = std::make_integer_sequence<int, kMaxTokens>{};
constexpr HalfPanelTable kQ4K = make_q4k_table(kTokens);
constexpr HalfPanelTable kQ5K = make_q5k_table(kTokens);
constexpr HalfPanelTable kQ6K = make_q6k_table(kTokens);

}  // namespace

void k_packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                   const Activations& a, float* y) {
  const HalfPanelTable& table = p.type == DType::Q4_K ? kQ4K : p.type == DType::Q5_K ? kQ5K : kQ6K;
  for_half_panels<kMaxTokens>(table, p, panel_begin, panel_end, a, y);
}

}  // namespace loom::kernels::detail::avx2
