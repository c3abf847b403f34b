// Private to src/kernels (and its tests): the K-quant formats Q4_K, Q5_K and Q6_K.
// Quantizers and dequantizers follow ggml's reference definitions, so files loom writes
// and files other tools write hold the same bytes for the same floats; dot products run
// against activations quantized to Q8_K (one f32 scale per 256 values, int8 quants, and
// the sum of every 16 quants), as ggml computes them.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/matmul_kernels.h"

namespace loom::kernels::detail {

inline bool is_k_quant(DType type) {
  return type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K;
}

// The 6-bit scale sc[j] and min m[j] of sub-block j (0..7) of a Q4_K/Q5_K block.
inline void unpack_scale_min(const uint8_t* packed, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = packed[j] & 63;
    *m = packed[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// Rows of n (a multiple of 256) values: quantize_row / dequantize_row for the K types.
void quantize_k_row(DType type, const float* src, void* dst, int64_t n);
void dequantize_k_row(DType type, const void* src, float* dst, int64_t n);

namespace scalar {
// One row of n (a multiple of 256) floats to Q8_K planes: quants (n), scales (n / 256),
// sums (n / 16). Rounded as ggml's quantize_row_q8_K: d = max / -127 of the value of
// largest magnitude, q = nearest(x / d) with ties to even.
void quantize_q8_k_activations(const float* x, int64_t n, int8_t* quants, float* scales,
                               int32_t* sums);
// dot(row of `type`, Q8_K activations) over n elements. The integer part of each block is
// exact; the block's float terms are added in block order, the same in every path.
float dot_k(DType type, const uint8_t* row, const int8_t* xq, const float* xd, const int32_t* xs,
            int64_t n);
// y[t * w.rows + r] for r in [row_begin, row_end) and every token of a (Q8_K planes).
void k_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
            float* y);
}  // namespace scalar

namespace avx2 {
float dot_k(DType type, const uint8_t* row, const int8_t* xq, const float* xd, const int32_t* xs,
            int64_t n);
void k_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
            float* y);
}  // namespace avx2

}  // namespace loom::kernels::detail
