// Packed Q4_0 matmul with AVX2: the same arithmetic as the AVX-512 kernel and the scalar
// reference (exact integer block sums, then acc = fma(d_w * d_x, sum, acc) block after
// block), on half panels of 8 rows, one row per int32 lane. (Q8_0 keeps the reference
// engine's 8-lane arithmetic, which the row-major kernel in matmul_avx2.cpp computes.)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/matmul_kernels.h"
#include "kernels/packed_avx2_common.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail::avx2 {
namespace {

constexpr int kMaxTokens = 4;

// One half panel (8 rows starting at row `half` * 8 of the panel) times T tokens.
template <int T>
void half_panel_tokens(const PackedWeights& p, const uint8_t* panel, int half, const Activations& a,
                       int64_t t0, float* y, int n_rows) {
  const int64_t nb = p.blocks;
  const uint8_t* scales = panel + half * kHalfRows * 2;
  const uint8_t* quants = panel + p.scale_bytes + half * 32;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256 dw = _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + b * kPanelRows * 2)));
    const uint8_t* block = quants + b * p.block_quant_bytes;
    // Only the first half panel's pass fetches ahead: the second re-reads cached lines.
    if (half == 0) {
      prefetch_panel_ahead<4>(block);
      prefetch_next_panel_scales(p, panel, b);
    }
    __m256i q[8];
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int g = 0; g < 4; ++g) {
      const __m256i packed = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + 64 * g));
      q[g] = _mm256_and_si256(packed, low);
      q[g + 4] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low);
    }
    for (int t = 0; t < T; ++t) {
      const int64_t token = t0 + t;
      const int8_t* x = a.quants + token * p.cols + b * kQK8_0;
      // Each maddubs pair is at most 2 * 15 * 127, so 8 of them still fit in int16.
      __m256i s16 = _mm256_maddubs_epi16(q[0], broadcast4(x));
      for (int g = 1; g < 8; ++g) {
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(q[g], broadcast4(x + 4 * g)));
      }
      const __m256i sum = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones),
                                           _mm256_set1_epi32(8 * a.sums[token * nb + b]));
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(a.scales[token * nb + b]));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) store_rows(y + (t0 + t) * p.rows, acc[t], n_rows);
}

using HalfPanelTable = HalfPanelTableOf<kMaxTokens>;

template <int... Ts>
constexpr HalfPanelTable make_table(std::integer_sequence<int, Ts...>) {
  return {&half_panel_tokens<Ts + 1>...};
}

constexpr HalfPanelTable kQ4_0 = make_table(std::make_integer_sequence<int, kMaxTokens>{});

}  // namespace

void packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                 const Activations& a, float* y) {
  for_half_panels<kMaxTokens>(kQ4_0, p, panel_begin, panel_end, a, y);
}

}  // namespace loom::kernels::detail::avx2
