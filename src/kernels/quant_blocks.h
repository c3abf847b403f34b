// Block layouts of the quantized formats, byte for byte as GGUF stores them.
#pragma once

#include <cstdint>

namespace loom::kernels {

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;

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

}  // namespace loom::kernels
