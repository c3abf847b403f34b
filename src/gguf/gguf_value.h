// Typed GGUF metadata values. Arrays keep their element type so `loom info` can show
// the file as written; numbers are widened (int64/uint64/double) for the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom::gguf {

// Value type ids as GGUF numbers them on disk.
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view value_type_name(ValueType type);
// The type for an id read from a file; nullopt for an id GGUF does not define.
std::optional<ValueType> value_type_from_id(uint32_t id);
// Encoded bytes of one scalar of this type; 0 for STRING and ARRAY (variable length).
uint64_t value_scalar_bytes(ValueType type);
// Smallest possible encoding of one value of this type (a scalar, an empty string, an
// empty array), used to bound counts read from a file by the bytes that remain.
uint64_t value_min_bytes(ValueType type);

struct Value {
  ValueType type = ValueType::U8;
  // Scalars: exactly one of these is meaningful, chosen by `type` (BOOL in `u`).
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string str;
  // ARRAY: element type plus the elements in the member that fits them.
  ValueType array_type = ValueType::U8;
  std::vector<uint64_t> array_u;       // U8 U16 U32 U64 BOOL
  std::vector<int64_t> array_i;        // I8 I16 I32 I64
  std::vector<double> array_f;         // F32 F64
  std::vector<std::string> array_str;  // STRING
  std::vector<Value> array_nested;     // ARRAY of ARRAY

  bool is_integer() const;    // any integer scalar type (not BOOL)
  bool is_float() const;      // F32 or F64
  size_t array_size() const;  // number of elements of an ARRAY value
};

}  // namespace loom::gguf
