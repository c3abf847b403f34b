// matmul(): convert the activations once, then split weight rows over the pool. The
// instruction set is read once per call from active_isa(); the per-set halves live in
// matmul_scalar.cpp and matmul_avx2.cpp.
#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/kquants.h"
#include "kernels/kquants_packed.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quant_blocks.h"
#include "kernels/quantize.h"

namespace loom::kernels {
namespace {

using detail::Activations;

struct IsaFunctions {
  void (*quantize_q8_0)(const float*, int64_t, int8_t*, float*, int32_t*);
  void (*round)(DType, const float*, int64_t, float*);
  void (*rows)(const WeightMatrix&, int64_t, int64_t, const Activations&, float*);
  // Packed Q4_0/Q8_0/K-quant panels; null on the scalar path, which reads the rows.
  void (*packed)(const PackedWeights&, int64_t, int64_t, const Activations&, float*);
  // Whether `packed` is an AVX-512 kernel, which reads the extra activation arrays
  // (group_sums, the block-major Q4_0 copy, min_pairs, sub_offsets).
  bool avx512_packed = false;
};

IsaFunctions functions_for(Isa isa, DType type) {
  const bool k_quant = detail::uses_q8_k_activations(type);
#if LOOM_KERNELS_HAVE_AVX2
  if (isa >= Isa::kAvx2) {
    return {detail::avx2::quantize_q8_0_activations, detail::avx2::round_activations,
            k_quant               ? detail::avx2::k_rows
            : isa >= Isa::kAvx512 ? detail::avx512::matmul_rows
                                  : detail::avx2::matmul_rows,
            isa >= Isa::kAvx512
                ? (k_quant ? detail::avx512::k_packed_rows : detail::avx512::packed_rows)
            : type == DType::Q4_0 ? detail::avx2::packed_rows
            : k_quant             ? detail::avx2::k_packed_rows
                                  : nullptr,
            isa >= Isa::kAvx512};
  }
#endif
  return {detail::scalar::quantize_q8_0_activations, detail::scalar::round_activations,
          k_quant ? detail::scalar::k_rows : detail::scalar::matmul_rows, nullptr};
}

// Rows are claimed by threads in chunks: a multiple of every tile height, enough chunks
// that a thread slowed by something else on its core is covered by the others.
constexpr int64_t kRowGroup = 4;
constexpr int64_t kMinChunkRows = 16;
constexpr int64_t kMaxChunkRows = 256;
constexpr int64_t kChunksPerThread = 8;
// Below this many multiply-adds a call runs on the calling thread: waking the pool would
// cost more than it saves. Where a row is computed never changes its value.
constexpr int64_t kMinParallelWork = 64 * 1024;
// Activation conversion is split over the pool from this many elements on.
constexpr int64_t kMinParallelConvert = 64 * 1024;

constexpr size_t align_up(size_t n) {
  return (n + 63) / 64 * 64;
}

template <typename Fn>
void for_tokens(ThreadPool& pool, int64_t n_tokens, int64_t cols, Fn&& fn) {
  if (n_tokens > 1 && pool.size() > 1 && n_tokens * cols >= kMinParallelConvert) {
    pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) fn(t);
    });
  } else {
    for (int64_t t = 0; t < n_tokens; ++t) fn(t);
  }
}

Activations convert_activations(const WeightMatrix& w, const float* x, int64_t n_tokens,
                                const IsaFunctions& isa, ThreadPool& pool, MatmulScratch& scratch) {
  Activations a;
  a.n_tokens = n_tokens;
  a.cols = w.cols;
  const auto elements = static_cast<size_t>(n_tokens * w.cols);
  if (w.type == DType::F32) {
    a.values = x;  // already the dot partner
    return a;
  }
  const int64_t cols = w.cols;
  if (detail::uses_q8_k_activations(w.type)) {
    // One quantizer for every instruction set: activations are a small part of the work.
    const int64_t nb = cols / kQK_K;
    const bool packed = w.packed != nullptr && isa.avx512_packed;
    const bool want_min_pairs = packed && w.type != DType::Q6_K;
    const bool want_sub_offsets = packed && w.type == DType::Q6_K;
    const size_t quant_bytes = align_up(elements);
    const size_t scale_bytes = align_up(static_cast<size_t>(n_tokens * nb) * sizeof(float));
    const size_t sum_bytes = align_up(static_cast<size_t>(n_tokens * cols / 16) * sizeof(int32_t));
    const size_t pair_bytes =
        want_min_pairs ? align_up(static_cast<size_t>(n_tokens * cols / 64) * sizeof(int32_t)) : 0;
    const size_t offset_bytes = want_sub_offsets ? sum_bytes : 0;
    const size_t bytes = quant_bytes + scale_bytes + sum_bytes + pair_bytes + offset_bytes;
    if (scratch.activations.size() < bytes) scratch.activations.resize(bytes);
    uint8_t* base = scratch.activations.data();
    auto* quants = reinterpret_cast<int8_t*>(base);
    auto* scales = reinterpret_cast<float*>(base + quant_bytes);
    auto* sums = reinterpret_cast<int32_t*>(base + quant_bytes + scale_bytes);
    auto* min_pairs = reinterpret_cast<int32_t*>(base + quant_bytes + scale_bytes + sum_bytes);
    auto* sub_offsets =
        reinterpret_cast<int32_t*>(base + quant_bytes + scale_bytes + sum_bytes + pair_bytes);
    for_tokens(pool, n_tokens, cols, [&](int64_t t) {
      int32_t* token_sums = sums + t * (cols / 16);
      detail::scalar::quantize_q8_k_activations(x + t * cols, cols, quants + t * cols,
                                                scales + t * nb, token_sums);
      if (want_min_pairs) {
        // Each sum of 32 activations is within +-4064, so it fits an int16.
        for (int64_t k = 0; k < cols / 64; ++k) {
          const auto lo = static_cast<uint16_t>(token_sums[4 * k] + token_sums[4 * k + 1]);
          const auto hi = static_cast<uint16_t>(token_sums[4 * k + 2] + token_sums[4 * k + 3]);
          min_pairs[t * (cols / 64) + k] =
              static_cast<int32_t>(static_cast<uint32_t>(lo) | (uint32_t{hi} << 16));
        }
      }
      if (want_sub_offsets) {
        for (int64_t s = 0; s < cols / 16; ++s)
          sub_offsets[t * (cols / 16) + s] = -32 * token_sums[s];
      }
    });
    a.quants = quants;
    a.scales = scales;
    a.sums = sums;
    a.min_pairs = want_min_pairs ? min_pairs : nullptr;
    a.sub_offsets = want_sub_offsets ? sub_offsets : nullptr;
    return a;
  }
  if (!detail::uses_q8_0_activations(w.type)) {
    const size_t bytes = align_up(elements * sizeof(float));
    if (scratch.activations.size() < bytes) scratch.activations.resize(bytes);
    auto* values = reinterpret_cast<float*>(scratch.activations.data());
    for_tokens(pool, n_tokens, cols,
               [&](int64_t t) { isa.round(w.type, x + t * cols, cols, values + t * cols); });
    a.values = values;
    return a;
  }
  const int64_t nb = cols / kQK8_0;
  const bool packed = w.packed != nullptr && isa.avx512_packed;
  const bool want_group_sums = packed && w.type == DType::Q8_0;
  const bool want_nibble_offsets = packed && w.type == DType::Q4_0;
  const size_t quant_bytes = align_up(elements);
  const size_t scale_bytes = align_up(static_cast<size_t>(n_tokens * nb) * sizeof(float));
  const size_t group_bytes = want_group_sums ? align_up(elements / 4 * sizeof(int32_t)) : 0;
  // Block-major copies for the packed Q4_0 kernel: quants, scales and offsets.
  const size_t block_major_bytes = want_nibble_offsets ? quant_bytes + 2 * scale_bytes : 0;
  const size_t bytes = quant_bytes + 2 * scale_bytes + group_bytes + block_major_bytes;
  if (scratch.activations.size() < bytes) scratch.activations.resize(bytes);
  uint8_t* base = scratch.activations.data();
  auto* quants = reinterpret_cast<int8_t*>(base);
  auto* scales = reinterpret_cast<float*>(base + quant_bytes);
  auto* sums = reinterpret_cast<int32_t*>(base + quant_bytes + scale_bytes);
  auto* group_sums = reinterpret_cast<int32_t*>(base + quant_bytes + 2 * scale_bytes);
  uint8_t* block_major = base + quant_bytes + 2 * scale_bytes + group_bytes;
  auto* block_quants = reinterpret_cast<int8_t*>(block_major);
  auto* block_scales = reinterpret_cast<float*>(block_major + quant_bytes);
  auto* nibble_offsets = reinterpret_cast<int32_t*>(block_major + quant_bytes + scale_bytes);
  for_tokens(pool, n_tokens, cols, [&](int64_t t) {
    isa.quantize_q8_0(x + t * cols, cols, quants + t * cols, scales + t * nb, sums + t * nb);
    if (want_nibble_offsets) {
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t entry = b * n_tokens + t;
        std::memcpy(block_quants + entry * kQK8_0, quants + t * cols + b * kQK8_0, kQK8_0);
        block_scales[entry] = scales[t * nb + b];
        nibble_offsets[entry] = -8 * sums[t * nb + b];
      }
    }
    if (!want_group_sums) return;
    const int8_t* q = quants + t * cols;
    int32_t* out = group_sums + t * (cols / 4);
    for (int64_t g = 0; g < cols / 4; ++g) {
      out[g] = -128 * (q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3]);
    }
  });
  a.quants = quants;
  a.scales = scales;
  a.sums = sums;
  a.group_sums = want_group_sums ? group_sums : nullptr;
  if (want_nibble_offsets) {
    a.block_quants = block_quants;
    a.block_scales = block_scales;
    a.nibble_offsets = nibble_offsets;
  }
  return a;
}

void check_matrix(const WeightMatrix& w) {
  if (!is_computable(w.type)) {
    fail("matmul: weights of type {} are not supported", dtype_name(w.type));
  }
  const int64_t block = dtype_traits(w.type).block_size;
  if (w.rows < 0 || w.cols <= 0 || w.cols % block != 0) {
    fail("matmul: a {} matrix of {} x {} is malformed (columns must be a positive multiple of {})",
         dtype_name(w.type), w.rows, w.cols, block);
  }
  if (w.data == nullptr && w.rows > 0) fail("matmul: weight matrix has no data");
}

// Panels of a packed matrix go to threads in chunks as rows do below.
void run_packed(const PackedWeights& p, const Activations& a, float* y,
                void (*packed)(const PackedWeights&, int64_t, int64_t, const Activations&, float*),
                int64_t work, ThreadPool& pool) {
  const int64_t n_panels = p.panels();
  if (pool.size() == 1 || work < kMinParallelWork || n_panels == 1) {
    packed(p, 0, n_panels, a, y);
    return;
  }
  const int64_t chunk = std::clamp<int64_t>(n_panels / (pool.size() * kChunksPerThread), 1,
                                            kMaxChunkRows / kPanelRows);
  const int64_t n_chunks = (n_panels + chunk - 1) / chunk;
  std::atomic<int64_t> next_chunk{0};
  pool.run([&](int, int) {
    for (int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed); c < n_chunks;
         c = next_chunk.fetch_add(1, std::memory_order_relaxed)) {
      packed(p, c * chunk, std::min(n_panels, (c + 1) * chunk), a, y);
    }
  });
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch) {
  check_matrix(w);
  if (n_tokens < 0) fail("matmul: negative token count {}", n_tokens);
  if (n_tokens == 0 || w.rows == 0) return;
  const IsaFunctions isa = functions_for(active_isa(), w.type);
  const Activations a = convert_activations(w, x, n_tokens, isa, pool, scratch);
  const int64_t work = w.rows * w.cols * n_tokens;
  if (w.packed != nullptr && isa.packed != nullptr) {
    run_packed(*w.packed, a, y, isa.packed, work, pool);
    return;
  }
  if (pool.size() == 1 || work < kMinParallelWork || w.rows <= kRowGroup) {
    isa.rows(w, 0, w.rows, a, y);
    return;
  }
  // Which thread computes a row never changes its value, so chunks go to whichever
  // thread asks first.
  const int64_t chunk_rows =
      std::clamp(w.rows / (pool.size() * kChunksPerThread), kMinChunkRows, kMaxChunkRows) /
      kRowGroup * kRowGroup;
  const int64_t n_chunks = (w.rows + chunk_rows - 1) / chunk_rows;
  std::atomic<int64_t> next_chunk{0};
  pool.run([&](int, int) {
    for (int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed); c < n_chunks;
         c = next_chunk.fetch_add(1, std::memory_order_relaxed)) {
      isa.rows(w, c * chunk_rows, std::min(w.rows, (c + 1) * chunk_rows), a, y);
    }
  });
}

void get_row(const WeightMatrix& w, int64_t row, float* dst) {
  check_matrix(w);
  if (row < 0 || row >= w.rows) fail("get_row: row {} is outside [0, {})", row, w.rows);
  const auto* base = static_cast<const uint8_t*>(w.data);
  dequantize_row(w.type, base + row * row_bytes(w.type, w.cols), dst, w.cols);
}

}  // namespace loom::kernels
