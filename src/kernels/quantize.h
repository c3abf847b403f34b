// Conversion between f32 rows and every computable storage type (F32, F16, BF16, Q8_0,
// Q4_0, Q4_K, Q5_K, Q6_K), rounding exactly as ggml's reference quantizers do, so files loom writes
// match files other tools write.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace loom::kernels {

// dst receives row_bytes(type, n) bytes. n must be a multiple of the block size.
void quantize_row(DType type, const float* src, void* dst, int64_t n);
// dst receives n floats.
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

}  // namespace loom::kernels
