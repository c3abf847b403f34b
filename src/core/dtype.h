// Tensor element types, numbered exactly as GGUF/ggml number them on disk.
// Every type GGUF files in the wild use is listed so that sizes can be validated and
// `loom info` can describe any file; `is_computable` says which ones loom can run.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace loom {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct DTypeTraits {
  std::string_view name;
  int64_t block_size;   // elements per block (1 for plain types)
  int64_t block_bytes;  // bytes per block
};

// Traits of a type id read from a file; nullopt for an id loom does not know.
std::optional<DTypeTraits> dtype_traits(uint32_t type_id);
DTypeTraits dtype_traits(DType type);  // for known enum values
std::string_view dtype_name(DType type);
std::optional<DType> dtype_from_name(std::string_view name);  // "Q8_0", "f16", ...

// True for the types loom's kernels implement (dequantize, dot products, matmul).
bool is_computable(DType type);

// Bytes of a row of n elements; n must be a multiple of the block size.
int64_t row_bytes(DType type, int64_t n);

}  // namespace loom
