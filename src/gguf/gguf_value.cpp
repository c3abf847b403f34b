#include "gguf/gguf_value.h"

namespace loom::gguf {

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::U8:
      return "u8";
    case ValueType::I8:
      return "i8";
    case ValueType::U16:
      return "u16";
    case ValueType::I16:
      return "i16";
    case ValueType::U32:
      return "u32";
    case ValueType::I32:
      return "i32";
    case ValueType::F32:
      return "f32";
    case ValueType::BOOL:
      return "bool";
    case ValueType::STRING:
      return "string";
    case ValueType::ARRAY:
      return "array";
    case ValueType::U64:
      return "u64";
    case ValueType::I64:
      return "i64";
    case ValueType::F64:
      return "f64";
  }
  return "unknown";
}

std::optional<ValueType> value_type_from_id(uint32_t id) {
  if (id > static_cast<uint32_t>(ValueType::F64)) return std::nullopt;
  return static_cast<ValueType>(id);
}

uint64_t value_scalar_bytes(ValueType type) {
  switch (type) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
      return 8;
    case ValueType::STRING:
    case ValueType::ARRAY:
      return 0;
  }
  return 0;
}

uint64_t value_min_bytes(ValueType type) {
  switch (type) {
    case ValueType::STRING:
      return 8;  // u64 length
    case ValueType::ARRAY:
      return 12;  // u32 element type + u64 count
    default:
      return value_scalar_bytes(type);
  }
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::U16:
    case ValueType::I16:
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::U64:
    case ValueType::I64:
      return true;
    default:
      return false;
  }
}

bool Value::is_float() const {
  return type == ValueType::F32 || type == ValueType::F64;
}

size_t Value::array_size() const {
  if (type != ValueType::ARRAY) return 0;
  switch (array_type) {
    case ValueType::U8:
    case ValueType::U16:
    case ValueType::U32:
    case ValueType::U64:
    case ValueType::BOOL:
      return array_u.size();
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      return array_i.size();
    case ValueType::F32:
    case ValueType::F64:
      return array_f.size();
    case ValueType::STRING:
      return array_str.size();
    case ValueType::ARRAY:
      return array_nested.size();
  }
  return 0;
}

}  // namespace loom::gguf
