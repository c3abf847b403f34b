// F32/F16/BF16 matmul with AVX-512 (compiled with -mavx512f/bw/vl, called only when the
// CPU has them), for rows of 16k elements. Each output element owns one 16-lane
// accumulator: lane l takes acc = fma(w[k + l], x[k + l], acc) for k = 0, 16, 32, ...,
// then the lanes are reduced halves, quarters, pairs (scalar::reduce16). That is the
// reference engine's order for such rows and the order of the AVX2 tiles (two __m256 per
// accumulator) and of scalar::dot_reference_order, so every path gives the same bits.
// With 32 registers a prefill tile holds 4 rows x 6 tokens of accumulators.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/matmul_kernels.h"

namespace loom::kernels::detail::avx512 {
namespace {

// scalar::reduce16's order: t8 = hi + lo, t4 = t8 halves added, (t4_0 + t4_2) + (t4_1 + t4_3).
inline float reduce16(__m512 v) {
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 t8 = _mm256_add_ps(hi, _mm512_castps512_ps256(v));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <DType kType>
inline __m512 load16(const uint8_t* row, int64_t k) {
  if constexpr (kType == DType::F32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (kType == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

struct Tile {
  const uint8_t* w;     // first weight row
  int64_t w_stride;     // bytes per weight row
  int64_t cols;         // elements per row (a multiple of 16)
  const float* x;       // first token's values, cols floats per token
  float* y;             // output of (first token, first row)
  int64_t y_stride;     // floats per token in y
  const uint8_t* next;  // decode: the next tile's rows, prefetched meanwhile; else null
};

template <DType kType, int R, int T>
void float_tile(const Tile& a) {
  constexpr int kStepBytes = kType == DType::F32 ? 64 : 32;
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const int64_t n = a.cols;
  for (int64_t k = 0; k < n; k += 16) {
    // The next tile's R contiguous rows, spread evenly over this tile's loop, into L2:
    // they are a tile away from use, and asking for L1 (T0) measured slower (F16 decode
    // on 2 Sapphire Rapids-class cores: 12.1 -> 12.9 tokens/s with T1).
    if (a.next != nullptr) {
      const uint8_t* p = a.next + (k / 16) * R * kStepBytes;
      for (int offset = 0; offset < R * kStepBytes; offset += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(p + offset), _MM_HINT_T1);
      }
    }
    __m512 w[R];
    for (int r = 0; r < R; ++r) w[r] = load16<kType>(a.w + r * a.w_stride, k);
    for (int t = 0; t < T; ++t) {
      const __m512 x = _mm512_loadu_ps(a.x + t * n + k);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(w[r], x, acc[r][t]);
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) a.y[t * a.y_stride + r] = reduce16(acc[r][t]);
}

constexpr int kMaxRows = 4;
constexpr int kMaxTokens = 6;
using TileFn = void (*)(const Tile&);
using TileTable = std::array<std::array<TileFn, kMaxTokens>, kMaxRows>;

template <DType kType, int R, int... Ts>
constexpr void fill_row(TileTable& table, std::integer_sequence<int, Ts...>) {
  ((table[R][Ts] = &float_tile<kType, R + 1, Ts + 1>), ...);
}

template <DType kType, int... Rs>
constexpr TileTable make_table(std::integer_sequence<int, Rs...>) {
  TileTable table{};
  (fill_row<kType, Rs>(table, std::make_integer_sequence<int, kMaxTokens>{}), ...);
  return table;
}

constexpr auto kRowSeq = std::make_integer_sequence<int, kMaxRows>{};
constexpr TileTable kF32Tiles = make_table<DType::F32>(kRowSeq);
constexpr TileTable kF16Tiles = make_table<DType::F16>(kRowSeq);
constexpr TileTable kBF16Tiles = make_table<DType::BF16>(kRowSeq);

// Decode streams 4 rows at once; prefill keeps 4 rows x 6 tokens of accumulators (24 of
// the 32 registers): measured faster than 3 x 8 and 6 x 4 (fewer weight conversions per
// FMA than 3 x 8, fewer activation loads than 6 x 4).
struct Shape {
  int rows;
  int tokens;
};
constexpr Shape kDecodeShape{4, 1};
constexpr Shape kPrefillShape{4, 6};

// Bytes of weight rows kept in L2 while every token tile passes over them: a token tile's
// activations then stay in L1 across the chunk's row tiles, and the weights (half the
// bytes in F16) are what streams from L2. Measured against 16 KiB chunks (weights in L1,
// activations streaming from L2): F16 pp64 +13%, 300 against 240 GFLOP/s on 2 Zen 5 cores.
constexpr int64_t kRowChunkBytes = 256 * 1024;

}  // namespace

void matmul_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                 float* y) {
  const bool tiled =
      (w.type == DType::F32 || w.type == DType::F16 || w.type == DType::BF16) && w.cols % 16 == 0;
  if (!tiled) return avx2::matmul_rows(w, row_begin, row_end, a, y);
  const TileTable& table = w.type == DType::F32   ? kF32Tiles
                           : w.type == DType::F16 ? kF16Tiles
                                                  : kBF16Tiles;
  const Shape shape = a.n_tokens == 1 ? kDecodeShape : kPrefillShape;
  const int64_t stride = row_bytes(w.type, w.cols);
  const int64_t chunk =
      std::max<int64_t>(shape.rows, kRowChunkBytes / stride / shape.rows * shape.rows);
  Tile tile{};
  tile.w_stride = stride;
  tile.cols = w.cols;
  tile.y_stride = w.rows;
  for (int64_t c0 = row_begin; c0 < row_end; c0 += chunk) {
    const int64_t c1 = std::min(row_end, c0 + chunk);
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += shape.tokens) {
      const int64_t nt = std::min<int64_t>(shape.tokens, a.n_tokens - t0);
      tile.x = a.values + t0 * w.cols;
      for (int64_t r0 = c0; r0 < c1; r0 += shape.rows) {
        const int64_t nr = std::min<int64_t>(shape.rows, c1 - r0);
        tile.w = static_cast<const uint8_t*>(w.data) + r0 * stride;
        tile.y = y + t0 * w.rows + r0;
        // Decode streams rows from memory, and prefetching the next tile's pays (+35% on
        // a 2048 x 5632 F16 matvec); in prefill the chunk's rows come from L2, and
        // prefetching them into L1 evicts the activations (-10% on pp64 matmuls).
        tile.next = a.n_tokens == 1 ? tile.w + nr * stride : nullptr;
        table[nr - 1][nt - 1](tile);
      }
    }
  }
}

}  // namespace loom::kernels::detail::avx512
