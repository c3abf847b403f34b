// Writer -> reader round trips: every value type, arrays (nested too), alignments other
// than 32 and tensors of several types come back exactly as written.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gguf_test_util.h"

namespace loom::gguf::test {
namespace {

Value scalar(ValueType type) {
  Value v;
  v.type = type;
  return v;
}
Value u_value(ValueType type, uint64_t u) {
  Value v = scalar(type);
  v.u = u;
  return v;
}
Value i_value(ValueType type, int64_t i) {
  Value v = scalar(type);
  v.i = i;
  return v;
}
Value f_value(ValueType type, double f) {
  Value v = scalar(type);
  v.f = f;
  return v;
}
Value array_of(ValueType element) {
  Value v = scalar(ValueType::ARRAY);
  v.array_type = element;
  return v;
}

// Deep equality of the members that `type` uses.
void expect_same(const Value& a, const Value& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case ValueType::STRING:
      EXPECT_EQ(a.str, b.str) << where;
      break;
    case ValueType::F32:
    case ValueType::F64:
      EXPECT_EQ(a.f, b.f) << where;
      break;
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      EXPECT_EQ(a.i, b.i) << where;
      break;
    case ValueType::ARRAY:
      ASSERT_EQ(a.array_type, b.array_type) << where;
      ASSERT_EQ(a.array_size(), b.array_size()) << where;
      EXPECT_EQ(a.array_u, b.array_u) << where;
      EXPECT_EQ(a.array_i, b.array_i) << where;
      EXPECT_EQ(a.array_f, b.array_f) << where;
      EXPECT_EQ(a.array_str, b.array_str) << where;
      for (size_t k = 0; k < a.array_nested.size(); ++k) {
        expect_same(a.array_nested[k], b.array_nested[k], where + "[" + std::to_string(k) + "]");
      }
      break;
    default:
      EXPECT_EQ(a.u, b.u) << where;
      break;
  }
}

std::vector<std::pair<std::string, Value>> every_scalar() {
  return {
      {"u8.min", u_value(ValueType::U8, 0)},
      {"u8.max", u_value(ValueType::U8, 255)},
      {"i8.min", i_value(ValueType::I8, -128)},
      {"i8.max", i_value(ValueType::I8, 127)},
      {"u16.max", u_value(ValueType::U16, 65535)},
      {"i16.min", i_value(ValueType::I16, -32768)},
      {"u32.max", u_value(ValueType::U32, 0xffffffffu)},
      {"i32.min", i_value(ValueType::I32, std::numeric_limits<int32_t>::min())},
      {"f32", f_value(ValueType::F32, 1e-5f)},
      {"f32.inf", f_value(ValueType::F32, -std::numeric_limits<float>::infinity())},
      {"bool.true", u_value(ValueType::BOOL, 1)},
      {"bool.false", u_value(ValueType::BOOL, 0)},
      {"u64.max", u_value(ValueType::U64, std::numeric_limits<uint64_t>::max())},
      {"i64.min", i_value(ValueType::I64, std::numeric_limits<int64_t>::min())},
      {"f64", f_value(ValueType::F64, 3.141592653589793)},
  };
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  const auto values = every_scalar();
  for (const auto& [key, v] : values) w.add_value(key, v);
  Value text = scalar(ValueType::STRING);
  text.str = std::string("nul\0inside, \xc3\xa9t\xc3\xa9", 17);
  w.add_value("string", text);
  w.add_value("string.empty", scalar(ValueType::STRING));

  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  EXPECT_EQ(file->version(), 3u);
  ASSERT_EQ(file->keys().size(), values.size() + 2);
  for (size_t k = 0; k < values.size(); ++k) {
    EXPECT_EQ(file->keys()[k], values[k].first);  // file order is kept
    const Value* got = file->find(values[k].first);
    ASSERT_NE(got, nullptr) << values[k].first;
    expect_same(values[k].second, *got, values[k].first);
  }
  expect_same(text, *file->find("string"), "string");
  EXPECT_EQ(file->get_string("string.empty"), "");
}

TEST(GgufRoundTrip, ConvenienceAdders) {
  GgufWriter w;
  w.add_u32("a.u32", 7);
  w.add_i32("a.i32", -7);
  w.add_u64("a.u64", 1ull << 40);
  w.add_f32("a.f32", 0.5f);
  w.add_bool("a.bool", true);
  w.add_string("a.string", "hello");
  w.add_string_array("a.strings", {"x", "", "yz"});
  w.add_f32_array("a.floats", {1.5f, -2.0f});
  w.add_i32_array("a.ints", {-1, 0, 1 << 30});
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  EXPECT_EQ(file->find("a.u32")->type, ValueType::U32);
  EXPECT_EQ(file->get_int("a.u32"), 7);
  EXPECT_EQ(file->find("a.i32")->type, ValueType::I32);
  EXPECT_EQ(file->get_int("a.i32"), -7);
  EXPECT_EQ(file->get_int("a.u64"), 1ll << 40);
  EXPECT_EQ(file->get_float("a.f32"), 0.5);
  EXPECT_EQ(file->get_bool("a.bool"), true);
  EXPECT_EQ(file->get_string("a.string"), "hello");
  EXPECT_EQ(*file->get_string_array("a.strings"), (std::vector<std::string>{"x", "", "yz"}));
  EXPECT_EQ(file->get_array("a.floats")->array_f, (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(file->get_array("a.ints")->array_type, ValueType::I32);
  EXPECT_EQ(file->get_array("a.ints")->array_i, (std::vector<int64_t>{-1, 0, 1 << 30}));
}

TEST(GgufRoundTrip, ArraysOfEveryElementType) {
  GgufWriter w;
  std::vector<std::pair<std::string, Value>> arrays;
  for (ValueType t :
       {ValueType::U8, ValueType::U16, ValueType::U32, ValueType::U64, ValueType::BOOL}) {
    Value a = array_of(t);
    a.array_u = {0, 1, 1, 0};
    if (t != ValueType::BOOL) a.array_u.push_back(t == ValueType::U8 ? 255 : 65535);
    arrays.emplace_back(std::string("arr.") + std::string(value_type_name(t)), a);
  }
  for (ValueType t : {ValueType::I8, ValueType::I16, ValueType::I32, ValueType::I64}) {
    Value a = array_of(t);
    a.array_i = {-128, 0, 127};
    arrays.emplace_back(std::string("arr.") + std::string(value_type_name(t)), a);
  }
  for (ValueType t : {ValueType::F32, ValueType::F64}) {
    Value a = array_of(t);
    a.array_f = {0.25, -1e10, 0};
    arrays.emplace_back(std::string("arr.") + std::string(value_type_name(t)), a);
  }
  Value strings = array_of(ValueType::STRING);
  strings.array_str = {"", "\xe2\x96\x81the", std::string(1000, 'x')};
  arrays.emplace_back("arr.string", strings);
  arrays.emplace_back("arr.empty", array_of(ValueType::U32));
  arrays.emplace_back("arr.empty_strings", array_of(ValueType::STRING));

  for (const auto& [key, v] : arrays) w.add_value(key, v);
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  for (const auto& [key, v] : arrays) {
    const Value* got = file->get_array(key);
    ASSERT_NE(got, nullptr) << key;
    expect_same(v, *got, key);
  }
}

TEST(GgufRoundTrip, NestedArrays) {
  Value inner_a = array_of(ValueType::I32);
  inner_a.array_i = {1, 2, 3};
  Value inner_b = array_of(ValueType::STRING);
  inner_b.array_str = {"x"};
  Value middle = array_of(ValueType::ARRAY);
  middle.array_nested = {inner_a, inner_b, array_of(ValueType::F32)};
  Value outer = array_of(ValueType::ARRAY);
  outer.array_nested = {middle, array_of(ValueType::ARRAY)};

  GgufWriter w;
  w.add_value("nested", outer);
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  const Value* got = file->get_array("nested");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->array_size(), 2u);
  expect_same(outer, *got, "nested");
}

TEST(GgufRoundTrip, AlignmentOtherThan32) {
  for (uint64_t alignment : {1u, 8u, 64u, 4096u}) {
    GgufWriter w = small_writer();
    w.set_alignment(alignment);
    w.add_tensor("odd.weight", DType::F16, {3}, pattern(6, 3));
    w.add_tensor("last.weight", DType::I8, {5}, pattern(5, 4));
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto file = parse(bytes);
    SCOPED_TRACE(alignment);
    EXPECT_EQ(file->alignment(), alignment);
    EXPECT_EQ(file->get_int("general.alignment"), alignment);
    EXPECT_EQ(file->find("general.alignment")->type, ValueType::U32);
    EXPECT_EQ(file->data_offset() % alignment, 0u);
    for (const TensorInfo& t : file->tensors()) EXPECT_EQ(t.offset % alignment, 0u) << t.name;
    EXPECT_EQ(0, std::memcmp(file->find_tensor("odd.weight")->data, pattern(6, 3).data(), 6));
    EXPECT_EQ(0, std::memcmp(file->find_tensor("last.weight")->data, pattern(5, 4).data(), 5));
  }
  // The default alignment is not written as a key.
  const std::vector<uint8_t> bytes = small_file();
  EXPECT_EQ(parse(bytes)->find("general.alignment"), nullptr);
  EXPECT_EQ(parse(bytes)->alignment(), 32u);
}

TEST(GgufRoundTrip, TensorsOfSeveralTypes) {
  struct Case {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    size_t n_bytes;
  };
  const std::vector<Case> cases = {
      {"f32", DType::F32, {7}, 28},
      {"f16", DType::F16, {4, 3}, 24},
      {"bf16", DType::BF16, {2, 2, 2}, 16},
      {"q8_0", DType::Q8_0, {64, 3}, 2 * 3 * 34},
      {"q4_0", DType::Q4_0, {32, 1, 2, 2}, 4 * 18},
      {"q4_k", DType::Q4_K, {256, 2}, 2 * 144},
      {"q6_k", DType::Q6_K, {512}, 2 * 210},
      {"i32", DType::I32, {5}, 20},
      {"empty", DType::F32, {0, 4}, 0},
  };
  GgufWriter w;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    // The Fill form: data is produced at write time into a buffer of the exact size.
    w.add_tensor(c.name, c.type, c.shape, [&c, k](std::span<uint8_t> out) {
      ASSERT_EQ(out.size(), c.n_bytes) << c.name;
      const std::vector<uint8_t> data = pattern(out.size(), static_cast<uint8_t>(k));
      std::copy(data.begin(), data.end(), out.begin());
    });
  }
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  ASSERT_EQ(file->tensors().size(), cases.size());
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const TensorInfo& t = file->tensors()[k];
    EXPECT_EQ(t.name, c.name);
    EXPECT_EQ(file->find_tensor(c.name), &t);
    EXPECT_EQ(t.type, c.type) << c.name;
    EXPECT_EQ(t.shape, c.shape) << c.name;
    EXPECT_EQ(t.n_bytes, c.n_bytes) << c.name;
    EXPECT_EQ(t.data, bytes.data() + file->data_offset() + t.offset) << c.name;
    const std::vector<uint8_t> expected = pattern(c.n_bytes, static_cast<uint8_t>(k));
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), t.data)) << c.name;
  }
  EXPECT_EQ(file->find_tensor("missing"), nullptr);
}

}  // namespace
}  // namespace loom::gguf::test
