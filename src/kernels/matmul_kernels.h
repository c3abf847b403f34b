// Private to src/kernels (and its tests): the per-instruction-set halves of matmul().
// Each instruction set provides the same functions in its own namespace; matmul.cpp
// picks one set per call from active_isa(). Within a set, every output element is
// computed by one fixed sequence of operations whatever the tile it falls in, so results
// do not depend on n_tokens, thread count or how rows are split.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/matmul.h"

namespace loom::kernels::detail {

// x of one matmul call, converted to the dot partner of the weight type.
struct Activations {
  int64_t n_tokens = 0;
  int64_t cols = 0;
  // F32/F16/BF16 weights: (n_tokens, cols) f32, each value already rounded to the weight
  // type (F16 or BF16 activations, kept widened so the inner loops need no conversion).
  const float* values = nullptr;
  // Q8_0/Q4_0 weights: Q8_0 blocks stored as planes, so quants are 32-byte aligned.
  // K-quant weights: Q8_K blocks as planes, scales (n_tokens, cols / 256) f32 and sums
  // (n_tokens, cols / 16), the sum of every 16 quants.
  const int8_t* quants = nullptr;  // (n_tokens, cols) q
  const float* scales = nullptr;   // (n_tokens, cols / 32) d: the fp16 scale widened to f32
  const int32_t* sums = nullptr;   // (n_tokens, cols / 32) sum of the block's q
  // Packed Q8_0 weights only: -128 times the sum of every 4 consecutive q, (n_tokens,
  // cols / 4), the offset the AVX-512 kernel's unsigned weights (q + 128) need.
  const int32_t* group_sums = nullptr;
  // Packed Q4_0 weights only, block-major: entry b * n_tokens + t is token t's block b,
  // so a kernel reaches several tokens of one block from one address. The 32 quants of
  // each entry, its scale, and -8 times its sum (the offset of the unsigned nibbles).
  const int8_t* block_quants = nullptr;
  const float* block_scales = nullptr;
  const int32_t* nibble_offsets = nullptr;
  // Packed Q4_K/Q5_K weights only: for every 64 columns, the sums of its two halves of 32
  // as an int16 pair (low half first), the partner of one vpdpwssd with the mins.
  // (n_tokens, cols / 64).
  const int32_t* min_pairs = nullptr;
  // Packed Q6_K weights only: -32 times every sum of 16 (the offset of q in [0, 64)),
  // (n_tokens, cols / 16).
  const int32_t* sub_offsets = nullptr;
};

// The dot partner of a weight type: Q8_0 for Q8_0/Q4_0, the type itself for float types.
inline bool uses_q8_0_activations(DType weight_type) {
  return weight_type == DType::Q8_0 || weight_type == DType::Q4_0;
}

// The K-quants (Q4_K, Q5_K, Q6_K) multiply with Q8_K activations.
inline bool uses_q8_k_activations(DType weight_type) {
  return weight_type == DType::Q4_K || weight_type == DType::Q5_K || weight_type == DType::Q6_K;
}

// f32 value of every fp16 bit pattern (256 KiB, built on first use): turns a block
// scale into one load, and the scales of real weights touch only a few KiB of it.
const float* fp16_table();

// Float weights summed by the untiled reference-order routine (see matmul_avx2.cpp):
// every F32 matrix, and F16/BF16 matrices whose rows do not divide into 16 elements. The
// tiles that compute other float matrices keep the same order (one 16-lane accumulator
// per element, reduced as reduce16), so both give the same bits.
inline bool uses_reference_order(const WeightMatrix& w) {
  return w.type == DType::F32 || w.cols % 16 != 0;
}

namespace scalar {
// Sum of 16 lanes as _mm512_reduce_add_ps adds them: halves, quarters, then pairs (the
// reference engine's reduction; attention and matmul both follow it).
float reduce16(const float* v);
// Element k of a float-type row, widened to f32.
float widen(DType type, const uint8_t* row, int64_t k);
// The reference engine's order for one float dot product (bit-identical to AVX2's).
float dot_reference_order(DType type, const uint8_t* row, const float* x, int64_t n);
// One row of n (a multiple of 32) floats to Q8_0 planes, rounded as the x86 build of
// ggml quantizes activations (quantize_row_q8_0, what llama.cpp runs): d = amax / 127,
// q = x * (127 / amax) rounded half to even. The weight quantizer, quantize_row(Q8_0),
// follows ggml's reference instead (q = roundf(x * (1 / d))); the two differ on ties.
void quantize_q8_0_activations(const float* x, int64_t n, int8_t* quants, float* scales,
                               int32_t* sums);
// out[i] = x[i] rounded to `type` (F16 or BF16; F32 copies) and widened back to f32.
void round_activations(DType type, const float* x, int64_t n, float* out);
// y[t * w.rows + r] for r in [row_begin, row_end) and every token of a.
void matmul_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                 float* y);
}  // namespace scalar

namespace avx2 {
// Panels [panel_begin, panel_end) of a packed Q4_0 matrix times every token of a
// (Q8_0 activations): y[t * p.rows + r] for the panels' rows.
void packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                 const Activations& a, float* y);
void quantize_q8_0_activations(const float* x, int64_t n, int8_t* quants, float* scales,
                               int32_t* sums);
void round_activations(DType type, const float* x, int64_t n, float* out);
void matmul_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                 float* y);
}  // namespace avx2

namespace avx512 {
// F32/F16/BF16 rows of 16k elements in 16-lane tiles (the reference engine's order, as
// scalar::dot_reference_order); other matrices go to avx2::matmul_rows.
void matmul_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                 float* y);
// As avx2::packed_rows, for packed Q4_0 and Q8_0 (which needs a.group_sums).
void packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                 const Activations& a, float* y);
}  // namespace avx512

}  // namespace loom::kernels::detail
