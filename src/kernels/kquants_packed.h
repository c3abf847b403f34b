// Private to src/kernels (and its tests): the 16-row panel layout of the K-quants
// (Q4_K, Q5_K, Q6_K), the layout matmul_kquants_packed_avx512.cpp streams.
//
// Panel p holds rows 16p .. 16p+15 (rows past the end are all zero). It is a sequence of
// super-block records, one per 256 columns, each 64-byte aligned and read front to back.
// "Row i's 4 bytes at 4i" below means: one 64-byte chunk feeds one vpdpbusd, row i in
// int32 lane i, and the 4 bytes are 4 consecutive elements of that row.
//
// Q4_K / Q5_K record:
//   0    d[16]     fp16, one per row
//   32   dmin[16]  fp16
//   64   sc[j][16] u8, the 6-bit scale of sub-block j (of 32 elements) of each row
//   192  m[k][16][2] u8, the mins of sub-blocks 2k and 2k+1 of row i at 32k + 2i (+1),
//        so that widened to int16 they are the pairs one vpdpwssd needs
//   320  sub-block j (0..7), Q4_K: 256 bytes, Q5_K: 320 bytes:
//          4 chunks of 64 bytes; chunk g holds, for row i at 4i + c, element 4g + c of the
//          sub-block in the low nibble and element 16 + 4g + c in the high nibble (the
//          low 4 bits of q);
//          Q5_K only, 64 more bytes: bit v of byte 4i + c is bit 4 of the element that
//          vector v of the sub-block holds there (v < 4: element 4v + c, else 16 + 4(v-4) + c).
// Q6_K record:
//   0    d[16]     fp16 (32 bytes, then 32 of padding)
//   64   sc[s][16] i8, the scale of sub-block s (of 16 elements) of each row
//   320  group k (0..7), elements 32k .. 32k+31 (sub-blocks 2k and 2k+1), 384 bytes:
//          4 chunks of 64 bytes as Q4_K's, holding the low 4 bits of q in [0, 64);
//          2 x 64 bytes H0, H1: bits 2g, 2g+1 of byte 4i + c of H0 are the high 2 bits of
//          element 4g + c, those of H1 of element 16 + 4g + c.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/matmul_kernels.h"
#include "kernels/packed_weights.h"

namespace loom::kernels::detail {

constexpr int64_t kQ4KRecordBytes = 320 + 8 * 256;
constexpr int64_t kQ5KRecordBytes = 320 + 8 * 320;
constexpr int64_t kQ6KRecordBytes = 320 + 8 * 384;

// Bytes of one super-block record of `type` (a K-quant).
int64_t k_record_bytes(DType type);

// Fills out.data (sized by the caller: panels * panel_bytes, zeroed) from w's rows.
void pack_k_panels(const WeightMatrix& w, PackedWeights& out);

namespace avx512 {
// Panels [panel_begin, panel_end) of a packed K-quant matrix times every token of a
// (Q8_K activations): y[t * p.rows + r], the scalar dot_k's bits.
void k_packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                   const Activations& a, float* y);
}  // namespace avx512

namespace avx2 {
// As avx512::k_packed_rows, on half panels of 8 rows: the same bits.
void k_packed_rows(const PackedWeights& p, int64_t panel_begin, int64_t panel_end,
                   const Activations& a, float* y);
}  // namespace avx2

}  // namespace loom::kernels::detail
