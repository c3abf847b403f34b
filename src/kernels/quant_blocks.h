// Block layouts of the quantized formats, byte for byte as GGUF stores them.
#pragma once

#include <cstdint>

namespace loom::kernels {

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;
constexpr int kQK_K = 256;        // elements per K-quant super-block
constexpr int kKScaleBytes = 12;  // Q4_K/Q5_K: 8 scales and 8 mins of 6 bits

// 32 weights: x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// 32 weights: x[i] = d * (q[i] - 8); qs[j] holds q[j] in its low nibble and q[j+16] in
// its high nibble.
struct BlockQ4_0 {
  uint16_t d;  // fp16 scale
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 256 weights in 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in [0, 16).
// scales packs the 6-bit sc[j] and m[j] (see unpack_scales_mins in kquants.h); qs[32c + l]
// holds sub-block 2c's element l in its low nibble and sub-block 2c+1's in its high one.
struct BlockQ4_K {
  uint16_t d;     // fp16 scale of the sub-block scales
  uint16_t dmin;  // fp16 scale of the sub-block mins
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// As Q4_K with q in [0, 32): the fifth bit of element l of sub-block j is bit j of qh[l].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 256 weights in 16 sub-blocks of 16: x = d * scales[i] * (q - 32), q in [0, 64). Each
// half of 128 elements uses 64 bytes of ql (low nibbles: elements 0-31 and 32-63 in the
// low nibbles of ql[0..32) and ql[32..64), 64-95 and 96-127 in their high nibbles) and 32
// of qh (bits 2k..2k+1 of qh[l] are the high bits of element 32k + l).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The activation partner of the K-quants: x = d * qs, with the sums of each 16 qs.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace loom::kernels
