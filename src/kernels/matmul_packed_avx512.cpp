// Packed Q4_0 / Q8_0 matmul with AVX-512 VNNI (compiled with -mavx512f/bw/vl/vnni, called
// only when the CPU has them). Sixteen rows live in the 16 int32 lanes of a vector: one
// vpdpbusd adds 4 products to each row, 8 of them cover a block of 32 for all 16 rows.
// A pass over a panel serves up to 16 tokens (Q4_0) or 2 (Q8_0).
// Q4_0: each row takes acc = fma(d_w * d_x, float(block sum), acc), block after block.
// Q8_0: each of the 8 sums of 4 products keeps its own accumulator, as the reference
// engine's vec_dot keeps 8 lanes, added at the end in its order. Both are the scalar
// path's arithmetic, so every path and every tile gives the same bits.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx512_int8.h"
#include "kernels/matmul_kernels.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail::avx512 {
namespace {

constexpr int kMaxTokens = 16;   // Q4_0 tokens per pass over a panel: 16 dpbusd chains
constexpr int kMaxQ8Tokens = 2;  // Q8_0: 8 accumulators a token
// One Q4_0 panel times T tokens. The nibbles are unsigned, so
// sum((q - 8) x) over a block = dpbusd sums - 8 * sum(x), exact in int32: each block's sum
// starts from a.nibble_offsets. Chunk j (low nibbles for j < 4, high ones after) holds
// block elements 4j .. 4j+3.
// The T tokens' sums run side by side, chunk after chunk: T independent dpbusd chains,
// each link T instructions after the last (longer than the latency with T = 16). The T
// sums fill the registers, so the float accumulators live in an L1 buffer: one fused
// load-fma and a store a token and block, on ports the dpbusd do not use.
template <int T>
void q4_panel_tokens(const PackedWeights& p, const uint8_t* panel, const Activations& a, int64_t t0,
                     float* y, __mmask16 rows_mask) {
  const int64_t nb = p.blocks;
  const uint8_t* scales = panel;
  const uint8_t* quants = panel + p.scale_bytes;
  alignas(64) float acc[T][kPanelRows] = {};
  const int64_t n = a.n_tokens;
  for (int64_t b = 0; b < nb; ++b) {
    // Token t0 + t of this block: quants at xb + 32 t, offset and scale at index t.
    const int64_t entry = b * n + t0;
    const int8_t* xb = a.block_quants + entry * kQK8_0;
    const int32_t* offsets = a.nibble_offsets + entry;
    const float* xd = a.block_scales + entry;
    const __m512 dw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kPanelRows * 2)));
    const uint8_t* block = quants + b * p.block_quant_bytes;
    prefetch_panel_ahead<4>(block);
    prefetch_next_panel_scales(p, panel, b);
    __m512i sum[T];
    if constexpr (T < 4) {
      // Few tokens: one dependent chain of 8 dpbusd per token would hold the loads
      // back; two chains of 4 (low and high nibbles) add the same integers.
      __m512i high[T];
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        sum[t] = _mm512_set1_epi32(offsets[t]);
        high[t] = _mm512_setzero_si512();
      }
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512i lo = nibble_vector(block, j);
        const __m512i hi = nibble_vector(block, j + 4);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          sum[t] = dpbusd_broadcast(sum[t], lo, xb + kQK8_0 * t + 4 * j);
          high[t] = dpbusd_broadcast(high[t], hi, xb + kQK8_0 * t + 4 * (j + 4));
        }
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) sum[t] = _mm512_add_epi32(sum[t], high[t]);
    } else {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) sum[t] = _mm512_set1_epi32(offsets[t]);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m512i q = nibble_vector(block, j);
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) sum[t] = dpbusd_broadcast(sum[t], q, xb + kQK8_0 * t + 4 * j);
      }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(xd[t]));
      _mm512_store_ps(acc[t],
                      _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum[t]), _mm512_load_ps(acc[t])));
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + (t0 + t) * p.rows, rows_mask, _mm512_load_ps(acc[t]));
  }
}

// One Q8_0 panel times T tokens. Weights are stored as q + 128 (unsigned for vpdpbusd), so
// each sum of 4 starts from -128 times the activations' sum of those 4 (a.group_sums).
template <DType kType, int T>
void q8_panel_tokens(const PackedWeights& p, const uint8_t* panel, const Activations& a, int64_t t0,
                     float* y, __mmask16 rows_mask) {
  const int64_t nb = p.blocks;
  const uint8_t* scales = panel;
  const uint8_t* quants = panel + p.scale_bytes;
  // T * 8 accumulators live in registers; each weight chunk is loaded when used.
  __m512 acc[T][8];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) acc[t][g] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 dw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kPanelRows * 2)));
    const uint8_t* block = quants + b * p.block_quant_bytes;
    prefetch_panel_ahead<8>(block);
    const int8_t* x[T];
    const int32_t* bias[T];
    __m512 d[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      x[t] = a.quants + (t0 + t) * p.cols + b * kQK8_0;
      bias[t] = a.group_sums + (t0 + t) * (p.cols / 4) + b * 8;
      d[t] = _mm512_mul_ps(dw, _mm512_set1_ps(a.scales[(t0 + t) * nb + b]));
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m512i q = _mm512_load_si512(block + 64 * g);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m512i s = dpbusd_broadcast(_mm512_set1_epi32(bias[t][g]), q, x[t] + 4 * g);
        acc[t][g] = _mm512_fmadd_ps(d[t], _mm512_cvtepi32_ps(s), acc[t][g]);
      }
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    const __m512 sum = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][4]), _mm512_add_ps(acc[t][2], acc[t][6])),
        _mm512_add_ps(_mm512_add_ps(acc[t][1], acc[t][5]), _mm512_add_ps(acc[t][3], acc[t][7])));
    _mm512_mask_storeu_ps(y + (t0 + t) * p.rows, rows_mask, sum);
  }
}

using PanelFn = void (*)(const PackedWeights&, const uint8_t*, const Activations&, int64_t, float*,
                         __mmask16);
using PanelTable = std::array<PanelFn, kMaxTokens>;

template <int... Ts>
constexpr PanelTable make_q4_table(std::integer_sequence<int, Ts...>) {
  return {&q4_panel_tokens<Ts + 1>...};
}

template <int... Ts>
constexpr PanelTable make_q8_table(std::integer_sequence<int, Ts...>) {
  return {&q8_panel_tokens<DType::Q8_0, Ts + 1>...};
}

constexpr PanelTable kQ4_0 = make_q4_table(std::make_integer_sequence<int, kMaxTokens>{});
constexpr PanelTable kQ8_0 = make_q8_table(std::make_integer_sequence<int, kMaxQ8Tokens>{});

}  // namespace

void packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                 const Activations& a, float* y) {
  const bool q4 = p.type == DType::Q4_0;
  const PanelTable& table = q4 ? kQ4_0 : kQ8_0;
  const int64_t max_tokens = q4 ? kMaxTokens : kMaxQ8Tokens;
  for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
    const int64_t r0 = panel * kPanelRows;
    const int64_t n_rows = std::min<int64_t>(kPanelRows, p.rows - r0);
    const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
    // The panel stays in cache while every token passes over it.
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += max_tokens) {
      const int64_t nt = std::min<int64_t>(max_tokens, a.n_tokens - t0);
      table[nt - 1](p, p.panel(panel), a, t0, y + r0, mask);
    }
  }
}

}  // namespace loom::kernels::detail::avx512
