#include "kernels/packed_weights.h"

#include <cstring>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/kquants.h"
#include "kernels/kquants_packed.h"
#include "kernels/matmul.h"
#include "kernels/quant_blocks.h"

namespace loom::kernels {
namespace {

constexpr int64_t align64(int64_t n) {
  return (n + 63) / 64 * 64;
}

constexpr int64_t kChunkBytes = kPanelRows * 4;  // 4 quants of each of 16 rows

template <typename Block>
void pack_panel(const WeightMatrix& w, int64_t p, PackedWeights& out) {
  const int64_t stride = row_bytes(w.type, w.cols);
  uint8_t* panel = out.data.data() + p * out.panel_bytes;
  auto* scales = reinterpret_cast<uint16_t*>(panel);
  uint8_t* quants = panel + out.scale_bytes;
  for (int64_t i = 0; i < kPanelRows; ++i) {
    const int64_t r = p * kPanelRows + i;
    if (r >= w.rows) break;  // padding rows stay zero: scale 0 makes their sums 0
    const auto* row =
        reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w.data) + r * stride);
    for (int64_t b = 0; b < out.blocks; ++b) {
      scales[b * kPanelRows + i] = row[b].d;
      uint8_t* block = quants + b * out.block_quant_bytes;
      const int64_t groups = out.block_quant_bytes / kChunkBytes;
      for (int64_t g = 0; g < groups; ++g) {
        uint8_t* dst = block + g * kChunkBytes + i * 4;
        for (int k = 0; k < 4; ++k) {
          if constexpr (sizeof(Block) == sizeof(BlockQ4_0)) {
            dst[k] = row[b].qs[4 * g + k];
          } else {
            dst[k] = static_cast<uint8_t>(row[b].qs[4 * g + k]) ^ 0x80;  // q + 128
          }
        }
      }
    }
  }
}

}  // namespace

bool has_packed_layout(DType type) {
  return type == DType::Q4_0 || type == DType::Q8_0 || detail::is_k_quant(type);
}

bool packed_layout_used(DType type) {
  const Isa isa = active_isa();
  return ((type == DType::Q4_0 || detail::is_k_quant(type)) && isa >= Isa::kAvx2) ||
         (type == DType::Q8_0 && isa >= Isa::kAvx512);
}

std::shared_ptr<const PackedWeights> pack_weights(const WeightMatrix& w) {
  if (!has_packed_layout(w.type) || w.rows == 0) return nullptr;
  if (detail::is_k_quant(w.type)) {
    if (w.cols <= 0 || w.cols % kQK_K != 0) {
      fail("pack_weights: a {} matrix needs a positive multiple of 256 columns, not {}",
           dtype_name(w.type), w.cols);
    }
    auto out = std::make_shared<PackedWeights>();
    out->type = w.type;
    out->rows = w.rows;
    out->cols = w.cols;
    out->blocks = w.cols / kQK_K;
    out->block_quant_bytes = detail::k_record_bytes(w.type);
    out->panel_bytes = out->blocks * out->block_quant_bytes;
    out->data.resize(static_cast<size_t>(out->panels() * out->panel_bytes));
    detail::pack_k_panels(w, *out);
    return out;
  }
  if (w.cols <= 0 || w.cols % kQK8_0 != 0) {
    fail("pack_weights: a {} matrix needs a positive multiple of 32 columns, not {}",
         dtype_name(w.type), w.cols);
  }
  auto out = std::make_shared<PackedWeights>();
  out->type = w.type;
  out->rows = w.rows;
  out->cols = w.cols;
  out->blocks = w.cols / kQK8_0;
  out->scale_bytes = align64(out->blocks * kPanelRows * 2);
  out->block_quant_bytes = (w.type == DType::Q4_0 ? 4 : 8) * kChunkBytes;
  out->panel_bytes = align64(out->scale_bytes + out->blocks * out->block_quant_bytes);
  out->data.resize(static_cast<size_t>(out->panels() * out->panel_bytes));
  for (int64_t p = 0; p < out->panels(); ++p) {
    if (w.type == DType::Q4_0) {
      pack_panel<BlockQ4_0>(w, p, *out);
    } else {
      pack_panel<BlockQ8_0>(w, p, *out);
    }
  }
  return out;
}

}  // namespace loom::kernels
