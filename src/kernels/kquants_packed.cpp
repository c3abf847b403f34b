// Repacking of K-quant rows into 16-row panels (layout in kquants_packed.h). Each row's
// super-block is first decoded to plain values (q, sub-block scales, mins) with the
// format's own definitions, then scattered into the panel's record.
#include "kernels/kquants_packed.h"

#include <cstring>

#include "kernels/kquants.h"
#include "kernels/matmul.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels::detail {
namespace {

constexpr int64_t kChunkBytes = kPanelRows * 4;

// One super-block of one row, decoded.
struct PlainBlock {
  uint16_t d = 0;
  uint16_t dmin = 0;
  uint8_t sc[8] = {};     // Q4_K/Q5_K
  uint8_t m[8] = {};      // Q4_K/Q5_K
  int8_t sc6[16] = {};    // Q6_K
  uint8_t q[kQK_K] = {};  // Q4_K [0, 16), Q5_K [0, 32), Q6_K [0, 64) (q + 32)
};

void decode(const BlockQ4_K& b, PlainBlock& out) {
  out.d = b.d;
  out.dmin = b.dmin;
  for (int j = 0; j < 8; ++j) {
    unpack_scale_min(b.scales, j, &out.sc[j], &out.m[j]);
    for (int l = 0; l < 32; ++l)
      out.q[32 * j + l] = (b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF;
  }
}

void decode(const BlockQ5_K& b, PlainBlock& out) {
  out.d = b.d;
  out.dmin = b.dmin;
  for (int j = 0; j < 8; ++j) {
    unpack_scale_min(b.scales, j, &out.sc[j], &out.m[j]);
    for (int l = 0; l < 32; ++l) {
      out.q[32 * j + l] = static_cast<uint8_t>(((b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF) |
                                               (((b.qh[l] >> j) & 1) << 4));
    }
  }
}

void decode(const BlockQ6_K& b, PlainBlock& out) {
  out.d = b.d;
  for (int s = 0; s < 16; ++s) out.sc6[s] = b.scales[s];
  for (int e = 0; e < kQK_K; ++e) {
    const int half = e / 128;
    const int k = (e % 128) / 32;
    const int l = e % 32;
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int low = ((k & 1) ? ql[l + 32] : ql[l]) >> ((k >= 2) ? 4 : 0) & 0xF;
    const int high = (qh[l] >> (2 * k)) & 3;
    out.q[e] = static_cast<uint8_t>(low | high << 4);
  }
}

// Element of vector v (0..7) of a 32-element group at byte offset c of a row's 4 bytes.
constexpr int element_of(int v, int c) {
  return v < 4 ? 4 * v + c : 16 + 4 * (v - 4) + c;
}

// 4 nibble chunks of the 32 elements q[0..32) of row i.
void put_nibbles(const uint8_t* q, int i, uint8_t* chunks) {
  for (int g = 0; g < 4; ++g) {
    for (int c = 0; c < 4; ++c) {
      chunks[g * kChunkBytes + 4 * i + c] =
          static_cast<uint8_t>((q[4 * g + c] & 0xF) | ((q[16 + 4 * g + c] & 0xF) << 4));
    }
  }
}

void put_row(DType type, const PlainBlock& pb, int i, uint8_t* rec) {
  std::memcpy(rec + 2 * i, &pb.d, 2);
  if (type == DType::Q6_K) {
    for (int s = 0; s < 16; ++s) rec[64 + 16 * s + i] = static_cast<uint8_t>(pb.sc6[s]);
    for (int k = 0; k < 8; ++k) {
      uint8_t* group = rec + 320 + 384 * k;
      const uint8_t* q = pb.q + 32 * k;
      put_nibbles(q, i, group);
      for (int g = 0; g < 4; ++g) {
        for (int c = 0; c < 4; ++c) {
          group[256 + 4 * i + c] |= static_cast<uint8_t>((q[4 * g + c] >> 4) << (2 * g));
          group[320 + 4 * i + c] |= static_cast<uint8_t>((q[16 + 4 * g + c] >> 4) << (2 * g));
        }
      }
    }
    return;
  }
  std::memcpy(rec + 32 + 2 * i, &pb.dmin, 2);
  for (int j = 0; j < 8; ++j) {
    rec[64 + 16 * j + i] = pb.sc[j];
    rec[192 + 32 * (j / 2) + 2 * i + (j % 2)] = pb.m[j];
  }
  const int64_t sub_bytes = type == DType::Q5_K ? 320 : 256;
  for (int j = 0; j < 8; ++j) {
    uint8_t* sub = rec + 320 + sub_bytes * j;
    const uint8_t* q = pb.q + 32 * j;
    put_nibbles(q, i, sub);
    if (type != DType::Q5_K) continue;
    for (int v = 0; v < 8; ++v) {
      for (int c = 0; c < 4; ++c) {
        sub[256 + 4 * i + c] |= static_cast<uint8_t>(((q[element_of(v, c)] >> 4) & 1) << v);
      }
    }
  }
}

template <typename Block>
void pack(const WeightMatrix& w, PackedWeights& out) {
  const int64_t stride = row_bytes(w.type, w.cols);
  PlainBlock pb;
  for (int64_t p = 0; p < out.panels(); ++p) {
    uint8_t* panel = out.data.data() + p * out.panel_bytes;
    for (int i = 0; i < kPanelRows; ++i) {
      const int64_t r = p * kPanelRows + i;
      if (r >= w.rows) break;  // padding rows stay zero: their scales make every term 0
      const auto* row =
          reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w.data) + r * stride);
      for (int64_t b = 0; b < out.blocks; ++b) {
        decode(row[b], pb);
        put_row(w.type, pb, i, panel + b * out.block_quant_bytes);
      }
    }
  }
}

}  // namespace

int64_t k_record_bytes(DType type) {
  switch (type) {
    case DType::Q4_K:
      return kQ4KRecordBytes;
    case DType::Q5_K:
      return kQ5KRecordBytes;
    default:
      return kQ6KRecordBytes;
  }
}

void pack_k_panels(const WeightMatrix& w, PackedWeights& out) {
  switch (w.type) {
    case DType::Q4_K:
      return pack<BlockQ4_K>(w, out);
    case DType::Q5_K:
      return pack<BlockQ5_K>(w, out);
    case DType::Q6_K:
      return pack<BlockQ6_K>(w, out);
    default:
      return;
  }
}

}  // namespace loom::kernels::detail
