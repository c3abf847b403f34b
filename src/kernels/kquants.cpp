// K-quant reference code: quantizers as ggml's quantize_row_q{4,5,6}_K_ref define them,
// dequantizers as the format defines it, and the scalar dot products against Q8_K.
#include "kernels/kquants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail {
namespace {

// Round to nearest, ties to even, as ggml's nearest_int (valid for |x| < 2^22).
inline int nearest_int(float x) {
  const float shifted = x + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

constexpr float kGroupMaxEps = 1e-15f;

// Best scale and min for n values quantized to [0, nmax] under weights w: a first guess
// from the range, then nstep + 1 candidate scales around it, each refined by weighted
// least squares for scale and min together (ggml's make_qkx2_quants). Returns the scale;
// *neg_min receives -min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -min;
    return 0.0f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    const float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * (diff * diff);
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0;
    float sum_l2 = 0;
    float sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * Laux[i] + this_min - x[i];
        cur_error += weights[i] * (diff * diff);
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

// Best symmetric scale for n values quantized to [-nmax, nmax) with weights x^2: the
// range's scale and 18 neighbours, kept by weighted least squares (ggml's
// make_qx_quants with rmse_type 1). L receives q + nmax.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Shared by Q4_K and Q5_K: per sub-block scale and min, packed to 6 bits, then every
// value re-quantized against the packed scales. L receives q in [0, nmax].
void quantize_scales_mins(const float* x, int nmax, float rmin, int nstep, uint8_t* scales_out,
                          uint16_t* d_out, uint16_t* dmin_out, uint8_t* L) {
  float mins[8];
  float scales[8];
  float weights[32];
  uint8_t Laux[32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                 0.1f, nstep);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::memset(scales_out, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    const auto ls = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * scales[j])));
    const auto lm = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mins[j])));
    if (j < 4) {
      scales_out[j] = ls;
      scales_out[j + 4] = lm;
    } else {
      scales_out[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      scales_out[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      scales_out[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = fp32_to_fp16(max_scale / 63.0f);
  *dmin_out = fp32_to_fp16(max_min / 63.0f);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min(scales_out, j, &sc, &m);
    const float d = fp16_to_fp32(*d_out) * sc;
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(*dmin_out) * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    quantize_scales_mins(x, 15, -1.0f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < kQK_K; j += 64) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      q += 32;
    }
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    quantize_scales_mins(x, 31, -0.5f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, kQK_K / 8);
    uint8_t m1 = 1;
    uint8_t m2 = 2;
    for (int n = 0; n < kQK_K; n += 64) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        int l2 = L[n + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
      ql += 32;
    }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t nb) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      y[i].d = fp32_to_fp16(0.0f);
      continue;
    }
    const float iscale = -128.0f / max_scale;
    y[i].d = fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      y[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = fp16_to_fp32(y[i].d) * y[i].scales[j];
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < kQK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l] & 0xF;
        const int q2 = L[j + l + 32] & 0xF;
        const int q3 = L[j + l + 64] & 0xF;
        const int q4 = L[j + l + 96] & 0xF;
        ql[l] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                     ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int j = 0; j < kQK_K; j += 64) {
      uint8_t sc, m;
      unpack_scale_min(x[i].scales, j / 32, &sc, &m);
      const float d1 = d * sc;
      const float m1 = min * m;
      unpack_scale_min(x[i].scales, j / 32 + 1, &sc, &m);
      const float d2 = d * sc;
      const float m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1;
    uint8_t u2 = 2;
    for (int j = 0; j < kQK_K; j += 64) {
      uint8_t sc, m;
      unpack_scale_min(x[i].scales, j / 32, &sc, &m);
      const float d1 = d * sc;
      const float m1 = min * m;
      unpack_scale_min(x[i].scales, j / 32 + 1, &sc, &m);
      const float d2 = d * sc;
      const float m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

// Q6_K element e of a block as q - 32 in [-32, 32).
inline int q6_value(const BlockQ6_K& b, int e) {
  const int half = e / 128;
  const int k = (e % 128) / 32;  // which 32 of the half
  const int l = e % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const int low = (k & 1 ? ql[l + 32] : ql[l]) >> (k >= 2 ? 4 : 0) & 0xF;
  const int high = (qh[l] >> (2 * k)) & 3;
  return (low | high << 4) - 32;
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int e = 0; e < kQK_K; ++e) *y++ = d * x[i].scales[e / 16] * q6_value(x[i], e);
  }
}

}  // namespace

void quantize_k_row(DType type, const float* src, void* dst, int64_t n) {
  const int64_t nb = n / kQK_K;
  switch (type) {
    case DType::Q4_K:
      return quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), nb);
    case DType::Q5_K:
      return quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), nb);
    case DType::Q6_K:
      return quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), nb);
    default:
      return;
  }
}

void dequantize_k_row(DType type, const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK_K;
  switch (type) {
    case DType::Q4_K:
      return dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, nb);
    case DType::Q5_K:
      return dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, nb);
    case DType::Q6_K:
      return dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb);
    default:
      return;
  }
}

namespace scalar {

void quantize_q8_k_activations(const float* x, int64_t n, int8_t* quants, float* scales,
                               int32_t* sums) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    int8_t* q = quants + b * kQK_K;
    float max = 0;
    float amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      scales[b] = 0.0f;
      std::memset(q, 0, kQK_K);
      for (int j = 0; j < kQK_K / 16; ++j) sums[b * (kQK_K / 16) + j] = 0;
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      q[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int32_t sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += q[16 * j + ii];
      sums[b * (kQK_K / 16) + j] = sum;
    }
    scales[b] = 1 / iscale;
  }
}

namespace {

// Integer dot of sub-blocks with their scales, and of the mins with the activation sums.
// The block's float terms below are the same expression as in the AVX2 twin.
float dot_q4_k(const BlockQ4_K* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t nb,
               const float* f16) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b, xq += kQK_K, xs += kQK_K / 16) {
    int32_t sumi = 0;
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min(w[b].scales, j, &sc, &m);
      const uint8_t* q = w[b].qs + 32 * (j / 2);
      const int shift = (j & 1) * 4;
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) dot += ((q[l] >> shift) & 0xF) * xq[32 * j + l];
      sumi += sc * dot;
      summ += m * (xs[2 * j] + xs[2 * j + 1]);
    }
    const float dy = f16[w[b].d] * xd[b];
    const float my = f16[w[b].dmin] * xd[b];
    sum += dy * static_cast<float>(sumi) - my * static_cast<float>(summ);
  }
  return sum;
}

float dot_q5_k(const BlockQ5_K* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t nb,
               const float* f16) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b, xq += kQK_K, xs += kQK_K / 16) {
    int32_t sumi = 0;
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min(w[b].scales, j, &sc, &m);
      const uint8_t* q = w[b].qs + 32 * (j / 2);
      const int shift = (j & 1) * 4;
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xF) | (((w[b].qh[l] >> j) & 1) << 4);
        dot += v * xq[32 * j + l];
      }
      sumi += sc * dot;
      summ += m * (xs[2 * j] + xs[2 * j + 1]);
    }
    const float dy = f16[w[b].d] * xd[b];
    const float my = f16[w[b].dmin] * xd[b];
    sum += dy * static_cast<float>(sumi) - my * static_cast<float>(summ);
  }
  return sum;
}

float dot_q6_k(const BlockQ6_K* w, const int8_t* xq, const float* xd, int64_t nb,
               const float* f16) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b, xq += kQK_K) {
    int32_t sumi = 0;
    for (int i = 0; i < kQK_K / 16; ++i) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += q6_value(w[b], 16 * i + l) * xq[16 * i + l];
      sumi += w[b].scales[i] * dot;
    }
    sum += (f16[w[b].d] * xd[b]) * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace

float dot_k(DType type, const uint8_t* row, const int8_t* xq, const float* xd, const int32_t* xs,
            int64_t n) {
  const int64_t nb = n / kQK_K;
  static const float* const f16 = fp16_table();
  switch (type) {
    case DType::Q4_K:
      return dot_q4_k(reinterpret_cast<const BlockQ4_K*>(row), xq, xd, xs, nb, f16);
    case DType::Q5_K:
      return dot_q5_k(reinterpret_cast<const BlockQ5_K*>(row), xq, xd, xs, nb, f16);
    case DType::Q6_K:
      return dot_q6_k(reinterpret_cast<const BlockQ6_K*>(row), xq, xd, nb, f16);
    default:
      return 0.0f;
  }
}

// Rows are taken in blocks that stay in cache while every token passes over them.
void k_rows(const WeightMatrix& w, int64_t row_begin, int64_t row_end, const Activations& a,
            float* y) {
  constexpr int64_t kRowBlock = 8;
  const int64_t n = w.cols;
  const int64_t stride = row_bytes(w.type, n);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
    const int64_t r1 = std::min(row_end, r0 + kRowBlock);
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      const int8_t* xq = a.quants + t * n;
      const float* xd = a.scales + t * (n / kQK_K);
      const int32_t* xs = a.sums + t * (n / 16);
      for (int64_t r = r0; r < r1; ++r)
        y[t * w.rows + r] = dot_k(w.type, base + r * stride, xq, xd, xs, n);
    }
  }
}

}  // namespace scalar
}  // namespace loom::kernels::detail
