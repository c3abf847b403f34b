// Packed K-quant matmul with AVX-512 VNNI (compiled with -mavx512f/bw/vl/vnni, called only
// when the CPU has them). Sixteen rows live in the 16 int32 lanes of a vector (layout in
// kquants_packed.h). Per super-block of 256 columns, each row's integer sums are exact:
//   Q4_K/Q5_K: sumi = sum_j sc[j] * dot_j (8 vpdpbusd per sub-block of 32, one vpmulld
//              by the sub-block scales), summ = sum_j m[j] * (sum of the 32 activations)
//              (4 vpdpwssd of the min pairs with the activation sums);
//   Q6_K:      sumi = sum_s sc[s] * (dot_s - 32 * sum of the 16 activations).
// The float terms are then written exactly as the scalar dot_k writes them, super-block
// after super-block:
//   Q4_K/Q5_K: acc = acc + ((d * xd) * float(sumi) - (dmin * xd) * float(summ))
//   Q6_K:      acc = acc + (d * xd) * float(sumi)
// so every path, tile and thread count gives the scalar reference's bits.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx512_int8.h"
#include "kernels/kquants_packed.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail::avx512 {
namespace {

constexpr int kMaxTokens = 8;  // tokens per pass over a panel

inline __m512i load(const uint8_t* p) {
  return _mm512_load_si512(p);
}

// q |= bit v of h, moved to bit 4 (Q5_K's fifth bit).
inline __m512i with_fifth_bit(__m512i q, __m512i h, int v) {
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  const __m512i moved = v <= 4 ? _mm512_slli_epi16(h, 4 - v) : _mm512_srli_epi16(h, v - 4);
  return _mm512_ternarylogic_epi32(q, moved, bit4, 0xf8);  // q | (moved & bit4)
}

// q |= bits 2g, 2g+1 of h, moved to bits 4, 5 (Q6_K's high bits).
inline __m512i with_high_bits(__m512i q, __m512i h, int g) {
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  const __m512i moved = g <= 2 ? _mm512_slli_epi16(h, 4 - 2 * g) : _mm512_srli_epi16(h, 2);
  return _mm512_ternarylogic_epi32(q, moved, bits45, 0xf8);
}

// acc + dpwssd(mins, the int16 pair at p broadcast), the pair as a {1to16} operand.
inline __m512i dpwssd_broadcast(__m512i acc, __m512i mins, const int32_t* p) {
  asm("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(mins), "m"(*p));
  return acc;
}

// The kernels below run the T tokens' integer sums side by side, vector after vector, so T
// independent dpbusd chains are in flight, and every loop is unrolled so the sums and
// accumulators stay in registers.

// One Q4_K/Q5_K panel times T tokens.
template <DType kType, int T>
void q45_panel_tokens(const PackedWeights& p, const uint8_t* panel, const Activations& a,
                      int64_t t0, float* y, __mmask16 rows_mask) {
  constexpr int64_t kSubBytes = kType == DType::Q5_K ? 320 : 256;
  const int64_t nb = p.blocks;
  const int64_t cols = p.cols;
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* rec = panel + b * p.block_quant_bytes;
    const int8_t* x0 = a.quants + t0 * cols + b * kQK_K;  // token t0 + t at x0 + t * cols
    __m512i sumi[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) sumi[t] = _mm512_setzero_si512();
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      const uint8_t* sub = rec + 320 + kSubBytes * j;
      prefetch_panel_ahead<kSubBytes / 64>(sub);
      // With few tokens, two chains (even and odd vectors) halve the dpbusd latency
      // chain; the integer sums are the same.
      constexpr int kChains = T < 4 ? 2 : 1;
      __m512i dot[kChains][T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t)
        for (int c = 0; c < kChains; ++c) dot[c][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) {
        __m512i q = nibble_vector(sub, v);
        if constexpr (kType == DType::Q5_K) q = with_fifth_bit(q, load(sub + 256), v);
        const int8_t* xv = x0 + 32 * j + 4 * v;
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t)
          dot[v % kChains][t] = dpbusd_broadcast(dot[v % kChains][t], q, xv + t * cols);
      }
      if constexpr (kChains == 2) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) dot[0][t] = _mm512_add_epi32(dot[0][t], dot[1][t]);
      }
      const __m512i sc =
          _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 64 + 16 * j)));
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t)
        sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(dot[0][t], sc));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(rec)));
    const __m512 dmw =
        _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(rec + 32)));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const int64_t token = t0 + t;
      const int32_t* pairs = a.min_pairs + token * (cols / 64) + b * (kQK_K / 64);
      __m512i summ = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512i mins = _mm512_cvtepu8_epi16(
            _mm256_load_si256(reinterpret_cast<const __m256i*>(rec + 192 + 32 * k)));
        summ = dpwssd_broadcast(summ, mins, pairs + k);
      }
      const __m512 xd = _mm512_set1_ps(a.scales[token * nb + b]);
      const __m512 dy = _mm512_mul_ps(dw, xd);
      const __m512 my = _mm512_mul_ps(dmw, xd);
      const __m512 term = _mm512_sub_ps(_mm512_mul_ps(dy, _mm512_cvtepi32_ps(sumi[t])),
                                        _mm512_mul_ps(my, _mm512_cvtepi32_ps(summ)));
      acc[t] = _mm512_add_ps(acc[t], term);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * p.rows, rows_mask, acc[t]);
}

// One Q6_K panel times T tokens. q in [0, 64) is vpdpbusd's unsigned operand; each
// sub-block's sum starts from -32 times its 16 activations' sum (a.sub_offsets), so it is
// sum (q - 32) x.
template <int T>
void q6_panel_tokens(const PackedWeights& p, const uint8_t* panel, const Activations& a, int64_t t0,
                     float* y, __mmask16 rows_mask) {
  const int64_t nb = p.blocks;
  const int64_t cols = p.cols;
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* rec = panel + b * p.block_quant_bytes;
    const int8_t* x[T];
    const int32_t* offsets[T];
    __m512i sumi[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      x[t] = a.quants + (t0 + t) * cols + b * kQK_K;
      offsets[t] = a.sub_offsets + (t0 + t) * (cols / 16) + b * (kQK_K / 16);
      sumi[t] = _mm512_setzero_si512();
    }
    // Sub-block s (16 elements): group s / 2, vectors 4 * (s % 2) .. + 3.
#pragma GCC unroll 1
    for (int s = 0; s < 16; ++s) {
      const uint8_t* group = rec + 320 + 384 * (s / 2);
      const int half = s % 2;
      prefetch_panel_ahead<3>(group + 192 * half);
      const __m512i h = load(group + 256 + 64 * half);
      __m512i dot[T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) dot[t] = _mm512_set1_epi32(offsets[t][s]);
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        const __m512i q = with_high_bits(nibble_vector(group, 4 * half + g), h, g);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) dot[t] = dpbusd_broadcast(dot[t], q, x[t] + 16 * s + 4 * g);
      }
      const __m512i sc =
          _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 64 + 16 * s)));
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t)
        sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(dot[t], sc));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(rec)));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(a.scales[(t0 + t) * nb + b]));
      acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(d, _mm512_cvtepi32_ps(sumi[t])));
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * p.rows, rows_mask, acc[t]);
}

using PanelFn = void (*)(const PackedWeights&, const uint8_t*, const Activations&, int64_t, float*,
                         __mmask16);
using PanelTable = std::array<PanelFn, kMaxTokens>;

template <int... Ts>
constexpr PanelTable make_q4k_table(std::integer_sequence<int, Ts...>) {
  return {&q45_panel_tokens<DType::Q4_K, Ts + 1>...};
}
template <int... Ts>
constexpr PanelTable make_q5k_table(std::integer_sequence<int, Ts...>) {
  return {&q45_panel_tokens<DType::Q5_K, Ts + 1>...};
}
template <int... Ts>
constexpr PanelTable make_q6k_table(std::integer_sequence<int, Ts...>) {
  return {&q6_panel_tokens<Ts + 1>...};
}

constexpr auto kTokens = std::make_integer_sequence<int, kMaxTokens>{};
constexpr PanelTable kQ4K = make_q4k_table(kTokens);
constexpr PanelTable kQ5K = make_q5k_table(kTokens);
constexpr PanelTable kQ6K = make_q6k_table(kTokens);

}  // namespace

void k_packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                   const Activations& a, float* y) {
  const PanelTable& table = p.type == DType::Q4_K ? kQ4K : p.type == DType::Q5_K ? kQ5K : kQ6K;
  for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
    const int64_t r0 = panel * kPanelRows;
    const int64_t n_rows = std::min<int64_t>(kPanelRows, p.rows - r0);
    const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
    // The panel stays in cache while every token passes over it.
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kMaxTokens) {
      const int64_t nt = std::min<int64_t>(kMaxTokens, a.n_tokens - t0);
      table[nt - 1](p, p.panel(panel), a, t0, y + r0, mask);
    }
  }
}

}  // namespace loom::kernels::detail::avx512
