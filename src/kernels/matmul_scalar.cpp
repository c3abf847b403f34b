// The scalar half of matmul: the reference the SIMD paths are tested against and the
// fallback on CPUs without AVX2. Dot products follow ggml's reference vec_dot functions.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail {

const float* fp16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = fp16_to_fp32(static_cast<uint16_t>(h));
    return t;
  }();
  return table.data();
}

namespace scalar {

float widen(DType type, const uint8_t* row, int64_t k) {
  switch (type) {
    case DType::F16:
      return fp16_to_fp32(reinterpret_cast<const uint16_t*>(row)[k]);
    case DType::BF16:
      return bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[k]);
    default:
      return reinterpret_cast<const float*>(row)[k];
  }
}

float reduce16(const float* v) {
  float t8[8], t4[4];
  for (int i = 0; i < 8; ++i) t8[i] = v[i + 8] + v[i];
  for (int i = 0; i < 4; ++i) t4[i] = t8[i + 4] + t8[i];
  return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

float dot_reference_order(DType type, const uint8_t* row, const float* x, int64_t n) {
  float acc[4][16] = {};
  if (n % 16 == 0) {
    for (int64_t k = 0; k < n; k += 16) {
      for (int l = 0; l < 16; ++l)
        acc[0][l] = std::fma(widen(type, row, k + l), x[k + l], acc[0][l]);
    }
    return reduce16(acc[0]);
  }
  const int64_t np = n / 64 * 64;
  double sum = 0;
  if (np > 0) {
    for (int64_t k = 0; k < np; k += 64) {
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 16; ++l) {
          const int64_t e = k + 16 * j + l;
          acc[j][l] = std::fma(widen(type, row, e), x[e], acc[j][l]);
        }
      }
    }
    float combined[16];
    for (int l = 0; l < 16; ++l) combined[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    sum = reduce16(combined);
  }
  for (int64_t k = np; k < n; ++k) sum += static_cast<double>(widen(type, row, k) * x[k]);
  return static_cast<float>(sum);
}

namespace {

// Q8_0, in the reference engine's arithmetic (its AVX2/AVX-512 vec_dot): 8 lanes, lane l
// takes the exact sum of elements 4l .. 4l+3 of each block, lane = fma(d_w * d_x, sum,
// lane); the lanes are added as its hsum does. The SIMD kernels give the same bits.
float dot_q8_0(const BlockQ8_0* w, const int8_t* xq, const float* xd, int64_t nb,
               const float* f16) {
  float lanes[8] = {};
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* q = xq + b * kQK8_0;
    const float d = f16[w[b].d] * xd[b];
    for (int l = 0; l < 8; ++l) {
      int32_t sum = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) sum += w[b].qs[k] * q[k];
      lanes[l] = std::fma(d, static_cast<float>(sum), lanes[l]);
    }
  }
  return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
         ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

// Q4_0: each block's exact integer dot product, then
// sum = fma(d_w * d_x, float(block sum), sum) block after block (the reference engine's
// repacked Q4_0 kernels sum this way). The packed SIMD kernels give the same bits.
float dot_q4_0(const BlockQ4_0* w, const int8_t* xq, const float* xd, int64_t nb,
               const float* f16) {
  constexpr int kHalf = kQK4_0 / 2;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* q = xq + b * kQK4_0;
    int32_t sumi = 0;
    for (int j = 0; j < kHalf; ++j) {
      sumi += ((w[b].qs[j] & 0x0f) - 8) * q[j] + ((w[b].qs[j] >> 4) - 8) * q[j + kHalf];
    }
    sum = std::fma(f16[w[b].d] * xd[b], static_cast<float>(sumi), sum);
  }
  return sum;
}

// Rows per block: the weight rows of a block stay in cache while every token passes.
constexpr int64_t kRowBlock = 8;

template <typename Dot>
void rows_by_tokens(const WeightMatrix& w, int64_t row_begin, int64_t row_end, int64_t n_tokens,
                    float* y, Dot dot) {
  const int64_t stride = row_bytes(w.type, w.cols);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
    const int64_t r1 = std::min(row_end, r0 + kRowBlock);
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t r = r0; r < r1; ++r) y[t * w.rows + r] = dot(base + r * stride, t);
    }
  }
}

}  // namespace

void quantize_q8_0_activations(const float* x, int64_t n, int8_t* quants, float* scales,
                               int32_t* sums) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* v = x + b * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(v[j]));
    // As ggml's x86 quantize_row_q8_0, which llama.cpp runs on activations: id = 127 / amax
    // and halves to even (nearbyint in the default rounding mode), unlike the weight
    // quantizer. Matching it keeps loom's logits within 1e-3 of the reference engine's.
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    scales[b] = fp16_to_fp32(fp32_to_fp16(d));
    int32_t sum = 0;
    for (int j = 0; j < kQK8_0; ++j) {
      const auto q = static_cast<int8_t>(std::nearbyint(v[j] * id));
      quants[b * kQK8_0 + j] = q;
      sum += q;
    }
    sums[b] = sum;
  }
}

void round_activations(DType type, const float* x, int64_t n, float* out) {
  switch (type) {
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    default:
      std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      return;
  }
}

void matmul_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
                 float* y) {
  const int64_t n = w.cols;
  const int64_t nb = n / kQK8_0;
  const float* f16 = fp16_table();
  switch (w.type) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
      // Ragged rows in the reference order; rows of 16k elements in its 16-lane branch,
      // the order of the SIMD tiles.
      rows_by_tokens(w, row_begin, row_end, a.n_tokens, y, [&](const uint8_t* row, int64_t t) {
        return dot_reference_order(w.type, row, a.values + t * n, n);
      });
      return;
    case DType::Q8_0:
      rows_by_tokens(w, row_begin, row_end, a.n_tokens, y, [&](const uint8_t* row, int64_t t) {
        return dot_q8_0(reinterpret_cast<const BlockQ8_0*>(row), a.quants + t * n,
                        a.scales + t * nb, nb, f16);
      });
      return;
    case DType::Q4_0:
      rows_by_tokens(w, row_begin, row_end, a.n_tokens, y, [&](const uint8_t* row, int64_t t) {
        return dot_q4_0(reinterpret_cast<const BlockQ4_0*>(row), a.quants + t * n,
                        a.scales + t * nb, nb, f16);
      });
      return;
    default:
      return;  // matmul() rejects other types before getting here
  }
}

}  // namespace scalar
}  // namespace loom::kernels::detail
