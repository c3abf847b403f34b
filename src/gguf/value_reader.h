// Reads GGUF metadata values from a ByteCursor. Besides the cursor's bounds checks it
// applies gguf_limits.h: array lengths, nesting depth, the number of nested arrays.
#pragma once

#include <cstdint>
#include <string_view>

#include "gguf/byte_cursor.h"
#include "gguf/gguf_limits.h"
#include "gguf/gguf_value.h"

namespace loom::gguf {

// Reads a u32 value type id; `what` names the field for the error message.
ValueType read_value_type(ByteCursor& cur, std::string_view what);

class ValueReader {
 public:
  explicit ValueReader(ByteCursor& cur) : cur_(cur) {}

  // The value of `type` (already read) at the cursor.
  Value read(ValueType type);

 private:
  void read_scalar(ValueType type, Value& v);
  void read_array(Value& v, int depth);
  uint64_t read_bool();

  ByteCursor& cur_;
  uint64_t nested_arrays_left_ = kMaxNestedArrays;
};

}  // namespace loom::gguf
