#include "gguf/value_reader.h"

#include <algorithm>
#include <optional>

namespace loom::gguf {
namespace {

// Reserve at most this many elements up front; beyond it vectors grow only as elements
// are actually read, so memory follows the bytes present rather than a claimed count.
constexpr uint64_t kMaxReserve = 1 << 16;

}  // namespace

ValueType read_value_type(ByteCursor& cur, std::string_view what) {
  const uint64_t at = cur.offset();
  const uint32_t id = cur.read<uint32_t>(what);
  const std::optional<ValueType> type = value_type_from_id(id);
  if (!type) cur.fail_at(at, fmt::format("unknown {} {}", what, id));
  return *type;
}

Value ValueReader::read(ValueType type) {
  Value v;
  v.type = type;
  if (type == ValueType::ARRAY) {
    read_array(v, 0);
  } else {
    read_scalar(type, v);
  }
  return v;
}

uint64_t ValueReader::read_bool() {
  const uint64_t at = cur_.offset();
  const uint8_t b = cur_.read<uint8_t>("bool");
  if (b > 1) cur_.fail_at(at, fmt::format("bool value {} is neither 0 nor 1", b));
  return b;
}

void ValueReader::read_scalar(ValueType type, Value& v) {
  switch (type) {
    case ValueType::U8:
      v.u = cur_.read<uint8_t>("u8 value");
      break;
    case ValueType::I8:
      v.i = cur_.read<int8_t>("i8 value");
      break;
    case ValueType::U16:
      v.u = cur_.read<uint16_t>("u16 value");
      break;
    case ValueType::I16:
      v.i = cur_.read<int16_t>("i16 value");
      break;
    case ValueType::U32:
      v.u = cur_.read<uint32_t>("u32 value");
      break;
    case ValueType::I32:
      v.i = cur_.read<int32_t>("i32 value");
      break;
    case ValueType::F32:
      v.f = cur_.read<float>("f32 value");
      break;
    case ValueType::BOOL:
      v.u = read_bool();
      break;
    case ValueType::U64:
      v.u = cur_.read<uint64_t>("u64 value");
      break;
    case ValueType::I64:
      v.i = cur_.read<int64_t>("i64 value");
      break;
    case ValueType::F64:
      v.f = cur_.read<double>("f64 value");
      break;
    case ValueType::STRING:
      v.str = cur_.read_string("string");
      break;
    case ValueType::ARRAY:
      break;  // read_array
  }
}

// The array body after the ARRAY type id: element type, u64 count, elements.
void ValueReader::read_array(Value& v, int depth) {
  v.array_type = read_value_type(cur_, "array element type");
  if (v.array_type == ValueType::ARRAY && depth + 1 >= kMaxArrayDepth) {
    cur_.fail_at(cur_.offset(), fmt::format("arrays nested more than {} deep", kMaxArrayDepth));
  }
  const uint64_t count_at = cur_.offset();
  const uint64_t count = cur_.read<uint64_t>("array count");
  const uint64_t min_bytes = value_min_bytes(v.array_type);
  if (count > cur_.remaining() / min_bytes) {
    cur_.fail_at(count_at,
                 fmt::format("array count {} ({} elements of at least {} bytes) runs "
                             "past the end of the file ({} bytes)",
                             count, value_type_name(v.array_type), min_bytes, cur_.size()));
  }
  if (count > kMaxArrayElements) {
    cur_.fail_at(count_at, fmt::format("array count {} exceeds the limit of {} elements", count,
                                       kMaxArrayElements));
  }
  const auto reserve = static_cast<size_t>(std::min(count, kMaxReserve));
  Value element;
  switch (v.array_type) {
    case ValueType::U8:
    case ValueType::U16:
    case ValueType::U32:
    case ValueType::U64:
    case ValueType::BOOL:
      v.array_u.reserve(reserve);
      for (uint64_t k = 0; k < count; ++k) {
        read_scalar(v.array_type, element);
        v.array_u.push_back(element.u);
      }
      break;
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      v.array_i.reserve(reserve);
      for (uint64_t k = 0; k < count; ++k) {
        read_scalar(v.array_type, element);
        v.array_i.push_back(element.i);
      }
      break;
    case ValueType::F32:
    case ValueType::F64:
      v.array_f.reserve(reserve);
      for (uint64_t k = 0; k < count; ++k) {
        read_scalar(v.array_type, element);
        v.array_f.push_back(element.f);
      }
      break;
    case ValueType::STRING:
      v.array_str.reserve(reserve);
      for (uint64_t k = 0; k < count; ++k) v.array_str.push_back(cur_.read_string("string"));
      break;
    case ValueType::ARRAY:
      if (count > nested_arrays_left_) {
        cur_.fail_at(count_at,
                     fmt::format("more than {} nested arrays in the file", kMaxNestedArrays));
      }
      nested_arrays_left_ -= count;
      v.array_nested.reserve(reserve);
      for (uint64_t k = 0; k < count; ++k) {
        Value& nested = v.array_nested.emplace_back();
        nested.type = ValueType::ARRAY;
        read_array(nested, depth + 1);
      }
      break;
  }
}

}  // namespace loom::gguf
