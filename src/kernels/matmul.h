// Matrix products against weight matrices in any computable type. One routine serves
// decode (one token) and prefill (many tokens): every output element is computed by the
// same dot-product code whatever the batch, thread count or split, so a sequence's
// results never depend on what else is in the batch.
#pragma once

#include <cstdint>
#include <memory>

#include "core/aligned_buffer.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/packed_weights.h"

namespace loom::kernels {

// Row r of the matrix is `cols` elements of `type` at data + r * row_bytes(type, cols).
struct WeightMatrix {
  DType type = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  // Q4_0 / Q8_0: the rows repacked for the SIMD kernels (pack_weights()), which use it
  // whenever present; the scalar path reads `data`. Both give the same bits.
  std::shared_ptr<const PackedWeights> packed;
};

// Per-thread-owner scratch, grown on first use and then reused (no per-step allocation).
struct MatmulScratch {
  AlignedBuffer<uint8_t> activations;  // x converted to the weight type's dot partner
};

// y[t * w.rows + r] = dot(row r of w, x[t * w.cols ...]) for t < n_tokens.
// x: (n_tokens, w.cols) f32; y: (n_tokens, w.rows) f32. Activations are converted once
// to the format the weight type multiplies with (Q8_0 blocks for Q8_0/Q4_0, F16 for F16,
// BF16 for BF16, F32 for F32), as ggml does, then rows are split over the pool.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch);

// Copies row `row` of w into dst as f32 (embedding look-up).
void get_row(const WeightMatrix& w, int64_t row, float* dst);

}  // namespace loom::kernels
