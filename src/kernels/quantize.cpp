// Reference (scalar) quantizers, rounding exactly as ggml's *_ref functions do so that
// files loom writes are byte-identical to files other tools write from the same floats.
#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/kquants.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels {
namespace {

void check_blocks(DType type, int64_t n) {
  if (!is_computable(type)) fail("kernels: cannot convert rows of type {}", dtype_name(type));
  const int64_t block = dtype_traits(type).block_size;
  if (n % block != 0) {
    fail("kernels: a {} row needs a multiple of {} elements, got {}", dtype_name(type), block, n);
  }
}

// amax = max |x|, d = amax / 127, q = roundf(x / d) (half away from zero).
void quantize_q8_0(const float* src, BlockQ8_0* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* x = src + b * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) dst[b].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  }
}

// `max` is the first value of largest magnitude, sign kept; d = max / -8 so that it maps
// to q = 0; q = min(15, trunc(x / d + 8.5)).
void quantize_q4_0(const float* src, BlockQ4_0* dst, int64_t n) {
  constexpr int kHalf = kQK4_0 / 2;
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float* x = src + b * kQK4_0;
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kHalf] * id + 8.5f)));
      dst[b].qs[j] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float d = fp16_to_fp32(src[b].d);
    for (int j = 0; j < kQK8_0; ++j) dst[b * kQK8_0 + j] = d * static_cast<float>(src[b].qs[j]);
  }
}

void dequantize_q4_0(const BlockQ4_0* src, float* dst, int64_t n) {
  constexpr int kHalf = kQK4_0 / 2;
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float d = fp16_to_fp32(src[b].d);
    float* y = dst + b * kQK4_0;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = d * static_cast<float>((src[b].qs[j] & 0x0f) - 8);
      y[j + kHalf] = d * static_cast<float>((src[b].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace

void quantize_row(DType type, const float* src, void* dst, int64_t n) {
  check_blocks(type, n);
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::F16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(src[i]);
      return;
    }
    case DType::BF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(src[i]);
      return;
    }
    case DType::Q8_0:
      quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
      return;
    case DType::Q4_0:
      quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
      return;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      detail::quantize_k_row(type, src, dst, n);
      return;
    default:
      break;
  }
  fail("kernels: cannot quantize to {}", dtype_name(type));
}

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  check_blocks(type, n);
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::F16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(in[i]);
      return;
    }
    case DType::BF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(in[i]);
      return;
    }
    case DType::Q8_0:
      dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
      return;
    case DType::Q4_0:
      dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
      return;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      detail::dequantize_k_row(type, src, dst, n);
      return;
    default:
      break;
  }
  fail("kernels: cannot dequantize {}", dtype_name(type));
}

}  // namespace loom::kernels
