// Pieces every AVX2 packed-panel kernel shares (include only from sources compiled with
// the AVX2 flags): the activation broadcast, the partial-row store and the loop that
// walks half panels (8 rows, one per int32 lane) and token tiles.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "kernels/matmul_kernels.h"
#include "kernels/packed_weights.h"

namespace loom::kernels::detail::avx2 {

constexpr int kHalfRows = kPanelRows / 2;

// 4 activation quants as one int32, in every lane.
inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

// The first n_rows lanes of v to out (a half panel may hold fewer than 8 real rows).
inline void store_rows(float* out, __m256 v, int n_rows) {
  if (n_rows == kHalfRows) {
    _mm256_storeu_ps(out, v);
  } else {
    alignas(32) float tmp[kHalfRows];
    _mm256_store_ps(tmp, v);
    std::memcpy(out, tmp, static_cast<size_t>(n_rows) * sizeof(float));
  }
}

// table[T - 1] computes one half panel (`half` 0 or 1) for T tokens from t0.
using HalfPanelFn = void (*)(const PackedWeights&, const uint8_t*, int, const Activations&, int64_t,
                             float*, int);
template <int kMaxTokens>
using HalfPanelTableOf = std::array<HalfPanelFn, kMaxTokens>;

// Panels [panel_begin, panel_end) times every token of a, one half panel at a time; each
// half panel stays in cache while the token tiles pass over it.
template <int kMaxTokens>
void for_half_panels(const HalfPanelTableOf<kMaxTokens>& table, const PackedWeights& p,
                     int64_t panel_begin, int64_t panel_end, const Activations& a, float* y) {
  for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
    for (int half = 0; half < 2; ++half) {
      const int64_t r0 = panel * kPanelRows + half * kHalfRows;
      const int64_t n_rows = std::min<int64_t>(kHalfRows, p.rows - r0);
      if (n_rows <= 0) break;
      for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kMaxTokens) {
        const int64_t nt = std::min<int64_t>(kMaxTokens, a.n_tokens - t0);
        table[nt - 1](p, p.panel(panel), half, a, t0, y + r0, static_cast<int>(n_rows));
      }
    }
  }
}

}  // namespace loom::kernels::detail::avx2
