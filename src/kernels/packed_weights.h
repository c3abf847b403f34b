// Quantized weight matrices repacked at load into panels of 16 rows, the layout the SIMD
// matmul kernels stream: one 512-bit integer dot product (VNNI) then computes 4 columns
// of 16 rows at once, and a decode step reads each panel front to back.
//
// Panel p holds rows 16p .. 16p+15 (rows past the end are zero). Within a panel:
//   scales: for each block b, the 16 rows' fp16 scales (32 bytes), blocks in order,
//           the region padded to 64 bytes;
//   quants: for each block b, `groups` chunks of 64 bytes; chunk g holds, for row i, the
//           4 quants of block elements 4g .. 4g+3 at bytes 4i .. 4i+3, as unsigned bytes:
//           Q4_0: 4 chunks of packed nibbles (low nibble: elements 4g.., high nibble:
//                 elements 16+4g..), the nibbles q in [0, 16) as stored;
//           Q8_0: 8 chunks of q + 128 in [0, 256).
// The kernels subtract the offsets (8 or 128 times the activation block's sum) in
// integers, so every block's dot product is exact before it meets its scales.
// K-quants (Q4_K, Q5_K, Q6_K) have their own panel layout, one record per super-block of
// 256 columns: see kquants_packed.h. For them `blocks` counts super-blocks,
// `block_quant_bytes` is a record's size and `scale_bytes` is 0 (scales live in records).
#pragma once

#include <cstdint>
#include <memory>

#include "core/aligned_buffer.h"
#include "core/dtype.h"

namespace loom::kernels {

struct WeightMatrix;

constexpr int64_t kPanelRows = 16;

struct PackedWeights {
  DType type = DType::Q4_0;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t blocks = 0;             // blocks of 32 per row
  int64_t scale_bytes = 0;        // bytes of a panel's scale region (64-aligned)
  int64_t block_quant_bytes = 0;  // bytes of one block's quant chunks (256 or 512)
  int64_t panel_bytes = 0;        // scale_bytes + blocks * block_quant_bytes (64-aligned)
  AlignedBuffer<uint8_t> data;

  int64_t panels() const { return (rows + kPanelRows - 1) / kPanelRows; }
  const uint8_t* panel(int64_t p) const { return data.data() + p * panel_bytes; }
};

// Decode streams each panel once, and the hardware prefetcher alone keeps too few lines
// in flight for two cores to reach the memory's bandwidth (Q4_0 matvec on Zen 5: 28-32
// GB/s of a 50 GB/s read loop without these). The panel kernels of every instruction set
// ask for the lines kPanelPrefetchBytes ahead of the ones they read; past a panel's end is
// the next panel, which the same thread reads next, and a prefetch past the buffer is
// harmless.
constexpr int64_t kPanelPrefetchBytes = 4096;
template <int kLines>
inline void prefetch_panel_ahead(const uint8_t* p) {
  for (int l = 0; l < kLines; ++l) __builtin_prefetch(p + kPanelPrefetchBytes + 64 * l, 0, 3);
}

// Q4_0/Q8_0 panels keep their scales in a stream of their own at the panel's head: while
// block b of `panel` computes, fetch a line of the next panel's scales every other block,
// so they are cached when it starts (Q4_0 matvec 33-41 -> 37-47 GB/s against fetching
// 512 bytes ahead in this panel's scales).
inline void prefetch_next_panel_scales(const PackedWeights& p, const uint8_t* panel, int64_t b) {
  if (b % 2 == 0) __builtin_prefetch(panel + p.panel_bytes + 32 * b, 0, 3);
}

// Whether matrices of `type` have a packed layout (Q4_0, Q8_0 and the K-quants).
bool has_packed_layout(DType type);

// Whether the active instruction set's kernels read the packed layout of `type`, i.e.
// whether a loader should pack: Q4_0 and the K-quants from AVX2 on, Q8_0 with AVX-512 (the
// AVX2 Q8_0 kernel reads the rows as stored).
bool packed_layout_used(DType type);

// The packed copy of w, or nullptr when its type has no packed layout.
std::shared_ptr<const PackedWeights> pack_weights(const WeightMatrix& w);

}  // namespace loom::kernels
