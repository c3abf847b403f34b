// The AVX2 half of matmul (compiled with -mavx2 -mfma -mf16c, called only when the CPU
// has them). Work is cut into tiles of R weight rows x T tokens; a tile loads each weight
// block once for T tokens and each activation block once for R rows. Every output element
// owns one accumulator that sees the same operations in the same order in every tile
// shape, so an element's value never depends on the tile, batch or thread it lands in.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail::avx2 {
namespace {

// Fixed-order horizontal sum of 8 lanes.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x1));
  return _mm_cvtsi128_si32(s);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// 16 lanes (lanes 0-7 in lo, 8-15 in hi) reduced as _mm512_reduce_add_ps does.
inline float reduce16(__m256 lo, __m256 hi) {
  return hsum(_mm256_add_ps(hi, lo));
}

// ---- tiles ------------------------------------------------------------------------------

// One tile's operands: R rows starting at `w`, T tokens starting at the activations below.
struct Tile {
  const uint8_t* w;  // first weight row of the tile
  int64_t w_stride;  // bytes per weight row
  int64_t cols;      // elements per row
  const float* x;    // float kinds: first token's values, cols floats per token
  const int8_t* xq;  // Q8_0 partner: first token's quants, cols per token
  const float* xd;   //   first token's scales, cols / 32 per token
  float* y;          // output of (first token, first row)
  int64_t y_stride;  // floats per token in y (the matrix's row count)
  const float* f16;  // fp16_table()
  // The weights the next tile will read: R contiguous rows, fetched into cache while this
  // tile computes, spread evenly over its loop (memory latency is the limit of decode).
  const uint8_t* next;
};

// Prefetches the part of the next tile's rows that matches step `i` of this tile's loop,
// where one step reads `step_bytes` of each of R rows, with __builtin_prefetch's locality
// (3: all levels, as _MM_HINT_T0; 2: L2 and out, as _MM_HINT_T1).
template <int R, int kStepBytes, int kLocality = 3>
inline void prefetch_next(const Tile& a, int64_t i) {
  const uint8_t* p = a.next + i * R * kStepBytes;
  for (int offset = 0; offset < R * kStepBytes; offset += 64) {
    __builtin_prefetch(p + offset, 0, kLocality);
  }
}

// 8 weights of a float type, widened to f32.
template <DType kType>
inline __m256 load8(const uint8_t* row, int64_t k) {
  if constexpr (kType == DType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (kType == DType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// F32/F16/BF16 rows of 16k elements x f32 activations in the 16-lane order: each output
// element owns one 16-lane accumulator (lanes 0-7 in lo, 8-15 in hi), lane l takes
// fma(w[k + l], x[k + l], acc) for k = 0, 16, ..., reduced as reduce16 below. That is
// dot_reference_order's order for such rows, and the AVX-512 tiles' (one __m512 each).
template <DType kType>
struct FloatKernel {
  template <int R, int T>
  static void run(const Tile& a) {
    if constexpr (R * T > 6) {
      run_by_halves<R, T>(a);
      return;
    }
    __m256 lo[R][T];
    __m256 hi[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) lo[r][t] = hi[r][t] = _mm256_setzero_ps();
    const int64_t n = a.cols;
    for (int64_t k = 0; k < n; k += 16) {
      // Into L2 (locality 2, _MM_HINT_T1): the float decode tiles measured faster so (AVX2 F16
      // decode on 2 Sapphire Rapids-class cores: 11.3 -> 12.0 tokens/s against T0).
      prefetch_next<R, kStepBytes, 2>(a, k / 16);
      __m256 w[R];
      for (int r = 0; r < R; ++r) w[r] = load8<kType>(a.w + r * a.w_stride, k);
      for (int t = 0; t < T; ++t) {
        const __m256 x = _mm256_loadu_ps(a.x + t * n + k);
        for (int r = 0; r < R; ++r) lo[r][t] = _mm256_fmadd_ps(w[r], x, lo[r][t]);
      }
      for (int r = 0; r < R; ++r) w[r] = load8<kType>(a.w + r * a.w_stride, k + 8);
      for (int t = 0; t < T; ++t) {
        const __m256 x = _mm256_loadu_ps(a.x + t * n + k + 8);
        for (int r = 0; r < R; ++r) hi[r][t] = _mm256_fmadd_ps(w[r], x, hi[r][t]);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) a.y[t * a.y_stride + r] = reduce16(lo[r][t], hi[r][t]);
  }

 private:
  static constexpr int kStepBytes = kType == DType::F32 ? 64 : 32;

  // Prefill tiles: lanes 0-7 of every accumulator over the whole row, then lanes 8-15 in
  // a second pass (the rows are in cache by then). Each lane sees the same operations in
  // the same order as above, and one half's R x T accumulators (12 for 4 x 3) fit the 16
  // registers with the T activations and one weight vector, where both halves at once
  // allowed only 2 x 3 (F16 pp64 on AVX2: 43 -> 61 t/s with 2 x 3 in one pass, and more
  // with 4 x 3 in two).
  template <int R, int T>
  static void run_by_halves(const Tile& a) {
    const int64_t n = a.cols;
    __m256 lo[R][T];
    for (int half = 0; half < 2; ++half) {
      __m256 acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
      for (int64_t k = 8 * half; k < n; k += 16) {
        if (half == 0) prefetch_next<R, kStepBytes>(a, k / 16);
        __m256 x[T];
        for (int t = 0; t < T; ++t) x[t] = _mm256_loadu_ps(a.x + t * n + k);
        for (int r = 0; r < R; ++r) {
          const __m256 w = load8<kType>(a.w + r * a.w_stride, k);
          for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(w, x[t], acc[r][t]);
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) {
          if (half == 0) {
            lo[r][t] = acc[r][t];
          } else {
            a.y[t * a.y_stride + r] = reduce16(lo[r][t], acc[r][t]);
          }
        }
    }
  }
};

// Lane `lane` (0-3) of each 128-bit half of v in all lanes of that half. The permute
// takes an immediate: once the tile loops are unrolled the switch folds away.
inline __m256 broadcast_lane(__m256 v, int lane) {
  switch (lane) {
    case 0:
      return _mm256_permute_ps(v, 0x00);
    case 1:
      return _mm256_permute_ps(v, 0x55);
    case 2:
      return _mm256_permute_ps(v, 0xaa);
    default:
      return _mm256_permute_ps(v, 0xff);
  }
}

// Q8_0 rows x Q8_0 activations, in the reference engine's arithmetic (its vec_dot; the
// AVX-512 kernel and the scalar path give the same bits). Per block: the exact integer dot via
// maddubs(|w|, sign(x, w)) and madd (no saturation: |w| <= 128, |x| <= 127), in 8 int32
// lanes, widened to f32 and accumulated as acc += (d_w * d_x) * lanes.
struct Q8_0Kernel {
  template <int R, int T>
  static void run(const Tile& a) {
    // Prefill tiles of up to 2 rows take a block's R x T scale products d_w * d_x from one
    // vector multiply (the same products, so the same bits), each then broadcast by an
    // in-lane permute. On Intel cores the permutes run on port 5, where a multiply per
    // pair took one of the two ports every integer dot product, conversion and FMA here
    // competes for (AVX2 Q8_0 pp64 on 2 Sapphire Rapids-class cores: 57.1 -> 62.1
    // tokens/s). Lane 4 r + t of the product vector holds the pair (r, t).
    constexpr bool kScaleVector = R <= 2 && T > 1;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    const int64_t nb = a.cols / kQK8_0;
    for (int64_t b = 0; b < nb; ++b) {
      prefetch_next<R, sizeof(BlockQ8_0)>(a, b);
      __m256i wq[R];
      __m256i wabs[R];
      __m128 dw[R];
      for (int r = 0; r < R; ++r) {
        const auto* block = reinterpret_cast<const BlockQ8_0*>(a.w + r * a.w_stride) + b;
        wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qs));
        wabs[r] = _mm256_abs_epi8(wq[r]);
        dw[r] = _mm_broadcast_ss(a.f16 + block->d);
      }
      const float* xd = a.xd + b;
      __m256 row_products[R];
      if constexpr (kScaleVector) {
        const __m128 dx =
            _mm_setr_ps(xd[0], xd[nb], T > 2 ? xd[2 * nb] : 0.0f, T > 3 ? xd[3 * nb] : 0.0f);
        const __m256 products =
            _mm256_mul_ps(_mm256_set_m128(dw[R - 1], dw[0]), _mm256_set_m128(dx, dx));
        row_products[0] = _mm256_permute2f128_ps(products, products, 0x00);
        if constexpr (R == 2) row_products[1] = _mm256_permute2f128_ps(products, products, 0x11);
      }
      for (int t = 0; t < T; ++t) {
        const __m256i x =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(a.xq + t * a.cols + b * kQK8_0));
        for (int r = 0; r < R; ++r) {
          const __m256i p = _mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(x, wq[r]));
          const __m256 lanes = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
          __m256 d;
          if constexpr (kScaleVector) {
            d = broadcast_lane(row_products[r], t);
          } else {
            d = _mm256_mul_ps(_mm256_set_m128(dw[r], dw[r]), _mm256_broadcast_ss(xd + t * nb));
          }
          acc[r][t] = _mm256_fmadd_ps(d, lanes, acc[r][t]);
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) a.y[t * a.y_stride + r] = hsum(acc[r][t]);
  }
};

// ---- the reference engine's summation order ---------------------------------------------
// F32 weights, and float weights whose rows do not divide into 16, are summed in the order
// the reference engine (ggml on an AVX-512 machine) uses, so that loom's logits agree with
// it to ~1e-3 (tests/api/reference_test.cpp). Rows of 16k elements: one 16-lane FMA
// accumulator (two __m256 here) reduced halves-quarters-pairs (its sgemm). Other rows:
// four 16-lane accumulators per 64 elements combined (0+2)+(1+3), then the remaining
// elements added in double (its vec_dot).

template <DType kType>
float dot_reference_order(const uint8_t* row, const float* x, int64_t n) {
  if (n % 16 == 0) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (int64_t k = 0; k < n; k += 16) {
      lo = _mm256_fmadd_ps(load8<kType>(row, k), _mm256_loadu_ps(x + k), lo);
      hi = _mm256_fmadd_ps(load8<kType>(row, k + 8), _mm256_loadu_ps(x + k + 8), hi);
    }
    return reduce16(lo, hi);
  }
  const int64_t np = n / 64 * 64;
  double sum = 0;
  if (np > 0) {
    __m256 lo[4], hi[4];
    for (int j = 0; j < 4; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
    for (int64_t k = 0; k < np; k += 64) {
      for (int j = 0; j < 4; ++j) {
        const int64_t e = k + 16 * j;
        lo[j] = _mm256_fmadd_ps(load8<kType>(row, e), _mm256_loadu_ps(x + e), lo[j]);
        hi[j] = _mm256_fmadd_ps(load8<kType>(row, e + 8), _mm256_loadu_ps(x + e + 8), hi[j]);
      }
    }
    sum = reduce16(_mm256_add_ps(_mm256_add_ps(lo[0], lo[2]), _mm256_add_ps(lo[1], lo[3])),
                   _mm256_add_ps(_mm256_add_ps(hi[0], hi[2]), _mm256_add_ps(hi[1], hi[3])));
  }
  for (int64_t k = np; k < n; ++k) {
    sum += static_cast<double>(scalar::widen(kType, row, k) * x[k]);
  }
  return static_cast<float>(sum);
}

template <DType kType>
void reference_order_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                          const Activations& a, float* y) {
  const int64_t stride = row_bytes(w.type, w.cols);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      y[t * w.rows + r] =
          dot_reference_order<kType>(base + r * stride, a.values + t * w.cols, w.cols);
    }
  }
}

// ---- tiling -----------------------------------------------------------------------------

constexpr int kMaxTileRows = 4;
constexpr int kMaxTileTokens = 4;
using TileFn = void (*)(const Tile&);
using TileTable = std::array<std::array<TileFn, kMaxTileTokens>, kMaxTileRows>;

template <class Kernel, int R, int T>
void run_tile(const Tile& a) {
  Kernel::template run<R, T>(a);
}

template <class Kernel, int R, int... Ts>
constexpr void fill_tile_row(TileTable& table, std::integer_sequence<int, Ts...>) {
  ((table[R][Ts] = &run_tile<Kernel, R + 1, Ts + 1>), ...);
}

template <class Kernel, int... Rs>
constexpr void fill_tiles(TileTable& table, std::integer_sequence<int, Rs...>) {
  (fill_tile_row<Kernel, Rs>(table, std::make_integer_sequence<int, kMaxTileTokens>{}), ...);
}

// table[R - 1][T - 1] = Kernel::run<R, T>.
template <class Kernel>
constexpr TileTable make_table() {
  TileTable table{};
  fill_tiles<Kernel>(table, std::make_integer_sequence<int, kMaxTileRows>{});
  return table;
}

// Tile shapes. Decode (one token) streams 4 rows at once. Prefill reuses each loaded
// weight vector for several tokens and each activation vector for several rows: 4 x 3 for
// float weights (one half of the 16 lanes at a time, FloatKernel::run_by_halves), 2 x 4
// for quantized ones.
struct Shape {
  int rows;
  int tokens;
};
constexpr Shape kDecodeShape{4, 1};
constexpr Shape kFloatPrefillShape{4, 3};
constexpr Shape kQuantizedPrefillShape{2, 4};

// Bytes of weight rows a chunk holds while all tokens pass over them. Quantized rows: 16
// KiB, kept in L1. Float rows: 256 KiB, kept in L2, so that a token tile's activations
// (f32, the larger operand) stay in L1 across the chunk's row tiles (F16 ffn_down x 64
// tokens on 2 Zen 5 cores: 113 -> 141 GFLOP/s; Q8_0 measured slower that way).
constexpr int64_t kQuantizedRowChunkBytes = 16 * 1024;
constexpr int64_t kFloatRowChunkBytes = 256 * 1024;

void run_rows(const TileTable& table, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
              const Activations& a, float* y) {
  const bool quantized = uses_q8_0_activations(w.type);
  const Shape shape =
      a.n_tokens == 1 ? kDecodeShape : (quantized ? kQuantizedPrefillShape : kFloatPrefillShape);
  const int64_t stride = row_bytes(w.type, w.cols);
  const int64_t chunk_bytes = quantized ? kQuantizedRowChunkBytes : kFloatRowChunkBytes;
  const int64_t chunk =
      std::max<int64_t>(shape.rows, chunk_bytes / stride / shape.rows * shape.rows);
  const int64_t nb = w.cols / kQK8_0;
  Tile tile{};
  tile.w_stride = stride;
  tile.cols = w.cols;
  tile.y_stride = w.rows;
  tile.f16 = fp16_table();
  for (int64_t c0 = row_begin; c0 < row_end; c0 += chunk) {
    const int64_t c1 = std::min(row_end, c0 + chunk);
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += shape.tokens) {
      const int64_t nt = std::min<int64_t>(shape.tokens, a.n_tokens - t0);
      if (quantized) {
        tile.xq = a.quants + t0 * w.cols;
        tile.xd = a.scales + t0 * nb;
      } else {
        tile.x = a.values + t0 * w.cols;
      }
      for (int64_t r0 = c0; r0 < c1; r0 += shape.rows) {
        const int64_t nr = std::min<int64_t>(shape.rows, c1 - r0);
        tile.w = static_cast<const uint8_t*>(w.data) + r0 * stride;
        tile.y = y + t0 * w.rows + r0;
        tile.next = tile.w + nr * stride;
        table[nr - 1][nt - 1](tile);
      }
    }
  }
}

constexpr TileTable kF16Tiles = make_table<FloatKernel<DType::F16>>();
constexpr TileTable kBF16Tiles = make_table<FloatKernel<DType::BF16>>();
constexpr TileTable kQ8_0Tiles = make_table<Q8_0Kernel>();

}  // namespace

void quantize_q8_0_activations(const float* x, int64_t n, int8_t* quants, float* scales,
                               int32_t* sums) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* in = x + b * kQK8_0;
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(in + 8 * i);
    const __m256 amax8 =
        _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                      _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    // The scalar twin's steps: d = amax / 127, id = 127 / amax, halves to even.
    const float amax = hmax(amax8);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    scales[b] = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      q[i] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[i], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // packs interleave 128-bit halves; the permute restores element order.
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(quants + b * kQK8_0), q8);
    sums[b] =
        hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
  }
}

void round_activations(DType type, const float* x, int64_t n, float* out) {
  int64_t i = 0;
  if (type == DType::F16) {
    for (; i + 8 <= n; i += 8) {
      const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
      _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
  } else if (type == DType::BF16) {
    // Round to nearest even on the upper 16 bits; NaNs stay NaN (quiet bit set).
    const __m256i lsb = _mm256_set1_epi32(1);
    const __m256i bias = _mm256_set1_epi32(0x7fff);
    const __m256i upper = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
    const __m256i quiet = _mm256_set1_epi32(0x00400000);
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256i bits = _mm256_castps_si256(v);
      const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), lsb);
      const __m256i rounded =
          _mm256_and_si256(_mm256_add_epi32(bits, _mm256_add_epi32(bias, odd)), upper);
      const __m256i nan = _mm256_and_si256(_mm256_or_si256(bits, quiet), upper);
      const __m256 is_nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
      _mm256_storeu_ps(out + i, _mm256_blendv_ps(_mm256_castsi256_ps(rounded),
                                                 _mm256_castsi256_ps(nan), is_nan));
    }
  } else {
    std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  scalar::round_activations(type, x + i, n - i, out + i);
}

void matmul_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                 float* y) {
  switch (w.type) {
    case DType::F32:
      return reference_order_rows<DType::F32>(w, row_begin, row_end, a, y);
    case DType::F16:
      if (uses_reference_order(w))
        return reference_order_rows<DType::F16>(w, row_begin, row_end, a, y);
      return run_rows(kF16Tiles, w, row_begin, row_end, a, y);
    case DType::BF16:
      if (uses_reference_order(w))
        return reference_order_rows<DType::BF16>(w, row_begin, row_end, a, y);
      return run_rows(kBF16Tiles, w, row_begin, row_end, a, y);
    case DType::Q8_0:
      return run_rows(kQ8_0Tiles, w, row_begin, row_end, a, y);
    case DType::Q4_0:
      // Unpacked Q4_0 rows: the AVX2 kernel reads pack_weights()'s layout.
      return scalar::matmul_rows(w, row_begin, row_end, a, y);
    default:
      return;  // matmul() rejects other types before getting here
  }
}

}  // namespace loom::kernels::detail::avx2
