// Damaged and hostile images: each must give a loom::Error whose message names the
// problem, the key or tensor and the offset, never a crash or a huge allocation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gguf/gguf_limits.h"
#include "gguf_test_util.h"

namespace loom::gguf::test {
namespace {

constexpr uint32_t kU32 = 4;
constexpr uint32_t kF32Type = 0;  // ggml tensor type ids
constexpr uint32_t kF64Type = 28;
constexpr uint32_t kQ8_0Type = 8;

// One F32 tensor "t" of `dims`, `data_bytes` bytes of data after aligned padding.
std::vector<uint8_t> one_tensor(std::initializer_list<uint64_t> dims, uint32_t type,
                                uint64_t offset, size_t data_bytes) {
  RawGguf f;
  f.header(1, 0).tensor("t", dims, type, offset).pad_to(32);
  f.bytes.resize(f.size() + data_bytes, 0x5a);
  return f.bytes;
}

// ---- header ----

TEST(GgufDamaged, BadMagic) {
  std::vector<uint8_t> bytes = small_file();
  std::memcpy(bytes.data(), "GGML", 4);
  EXPECT_PARSE_ERROR(bytes, "test.gguf", "not a GGUF file", "magic", "'GGUF'", "offset 0");
}

TEST(GgufDamaged, UnsupportedVersions) {
  std::vector<uint8_t> bytes = small_file();
  store_u32(bytes, 4, 1);
  EXPECT_PARSE_ERROR(bytes, "version 1 is not supported", "offset 4");
  store_u32(bytes, 4, 4);
  EXPECT_PARSE_ERROR(bytes, "unsupported GGUF version 4", "offset 4");
  store_u32(bytes, 4, 0);
  EXPECT_PARSE_ERROR(bytes, "unsupported GGUF version 0");
  store_u32(bytes, 4, 0x03000000);
  EXPECT_PARSE_ERROR(bytes, "big-endian");
  store_u32(bytes, 4, 2);  // version 2 has the same layout and is accepted
  EXPECT_EQ(parse(bytes)->version(), 2u);
}

TEST(GgufDamaged, HugeCounts) {
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1ull << 60).bytes, "kv count 1152921504606846976",
                     "offset 16");
  EXPECT_PARSE_ERROR(RawGguf().header(~0ull, 0).bytes, "tensor count 18446744073709551615",
                     "offset 8");
  // A count that is plausible for the file size but larger than the keys present.
  std::vector<uint8_t> bytes = small_file();
  store_u64(bytes, 16, 4);
  EXPECT_PARSE_ERROR(bytes, "offset");
}

// ---- truncation ----

TEST(GgufDamaged, EveryTruncationOfASmallFileThrows) {
  const std::vector<uint8_t> bytes = small_file();
  const auto file = parse(bytes);
  const TensorInfo& last = file->tensors().back();
  const size_t needed = file->data_offset() + last.offset + last.n_bytes;
  ASSERT_EQ(needed, bytes.size());  // small_file() has no trailing padding
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    const std::string message = parse_error(cut);
    EXPECT_NE(message.find("test.gguf"), std::string::npos) << n << ": " << message;
    // Either the offset where parsing stopped or the byte range of the cut tensor.
    EXPECT_TRUE(message.find("offset") != std::string::npos ||
                message.find("data [") != std::string::npos)
        << n << ": " << message;
  }
}

TEST(GgufDamaged, TruncationAtSectionBoundariesNamesTheSection) {
  const std::vector<uint8_t> bytes = small_file();
  const auto cut = [&](size_t n) { return std::vector<uint8_t>(bytes.begin(), bytes.begin() + n); };
  EXPECT_PARSE_ERROR(cut(0), "truncated", "magic", "offset 0");
  EXPECT_PARSE_ERROR(cut(6), "truncated", "version", "offset 4");
  EXPECT_PARSE_ERROR(cut(12), "truncated", "tensor count", "offset 8");
  EXPECT_PARSE_ERROR(cut(20), "truncated", "kv count", "offset 16");
  // Cuts before the end of the smallest possible 3 key-value pairs fail the count check.
  EXPECT_PARSE_ERROR(cut(24), "kv count 3 is impossible", "offset 16");
  EXPECT_PARSE_ERROR(cut(find_bytes(bytes, "general.architecture") + 3), "kv count 3");

  // In a key's name, after the name, in a scalar value, inside an array.
  const size_t blocks = find_bytes(bytes, "llama.block_count");
  EXPECT_PARSE_ERROR(cut(blocks + 3), "key #2", "key length 17 runs past the end",
                     "offset " + std::to_string(blocks - 8));
  EXPECT_PARSE_ERROR(cut(blocks + 17), "'llama.block_count'", "truncated", "value type",
                     "offset " + std::to_string(blocks + 17));
  EXPECT_PARSE_ERROR(cut(blocks + 17 + 4 + 2), "'llama.block_count'", "u32 value",
                     "offset " + std::to_string(blocks + 17 + 4));
  const size_t tokens = find_bytes(bytes, "tokenizer.ggml.tokens");
  EXPECT_PARSE_ERROR(cut(tokens + 21 + 4 + 4 + 3), "'tokenizer.ggml.tokens'", "array count");
  EXPECT_PARSE_ERROR(cut(find_bytes(bytes, "bc") + 1), "'tokenizer.ggml.tokens'", "string");

  // In the tensor infos.
  const size_t q = find_bytes(bytes, "q.weight");
  // Cuts leaving less than two minimal tensor infos fail the count check.
  EXPECT_PARSE_ERROR(cut(q + 4), "tensor count 2 is impossible", "offset 8");
  EXPECT_PARSE_ERROR(cut(q + 8 + 2), "tensor count 2 is impossible", "offset 8");
  EXPECT_PARSE_ERROR(cut(q + 8 + 4 + 12), "'q.weight'", "dimension");
  EXPECT_PARSE_ERROR(cut(q + 8 + 4 + 16 + 1), "'q.weight'", "tensor type");
  EXPECT_PARSE_ERROR(cut(q + 8 + 4 + 16 + 4 + 7), "'q.weight'", "tensor data offset");
  const size_t infos_end = q + 8 + 4 + 16 + 4 + 8;
  ASSERT_NE(infos_end % 32, 0u);
  EXPECT_PARSE_ERROR(cut(infos_end), "data section starts at offset",
                     std::to_string(infos_end + (32 - infos_end % 32)), "past the end");

  // In the data: the first tensor, then the last one's final byte.
  const auto file = parse(bytes);
  EXPECT_PARSE_ERROR(cut(file->data_offset() + 10), "tensor 'norm.weight'", "data [",
                     "past the end of the file");
  EXPECT_PARSE_ERROR(cut(bytes.size() - 1), "tensor 'q.weight'",
                     "data [" + std::to_string(file->data_offset() + 32) + ", " +
                         std::to_string(bytes.size()) + ")",
                     "(" + std::to_string(bytes.size() - 1) + " bytes)");
}

TEST(GgufDamaged, TruncatedRealModel) {
  std::ifstream in(std::string(LOOM_SHARED_DIR) + "/models/stories260K-q8_0.gguf",
                   std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in),
                                   std::istreambuf_iterator<char>()};
  const auto file = parse(bytes);
  uint64_t needed = 0;
  for (const TensorInfo& t : file->tensors()) {
    needed = std::max(needed, file->data_offset() + t.offset + t.n_bytes);
  }
  // Every cut in the header, key-value and tensor-info sections, then a stride through
  // the data: all must throw.
  for (size_t n = 0; n < needed; n += n < file->data_offset() ? 1 : 509) {
    const std::string message = parse_error({bytes.begin(), bytes.begin() + n});
    ASSERT_TRUE(message.find("offset") != std::string::npos ||
                message.find("data [") != std::string::npos)
        << n << ": " << message;
  }
  EXPECT_PARSE_ERROR(std::vector<uint8_t>(bytes.begin(), bytes.begin() + needed - 1),
                     "past the end of the file");
}

// ---- metadata ----

TEST(GgufDamaged, StringLengthPastTheEnd) {
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).u64(1000).put("abcdefghijklmnopqrst", 20).bytes,
                     "key #0", "key length 1000 runs past the end of the file (52 bytes)",
                     "offset 24");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("k").u32(8).u64(1ull << 40).bytes, "key 'k'",
                     "string length 1099511627776 runs past the end", "offset 37");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("k").u32(8).u64(~0ull).bytes, "key 'k'",
                     "string length 18446744073709551615");
  EXPECT_PARSE_ERROR(RawGguf().header(1, 0).u64(500).put("t", 1).u32(1).u64(1).u32(0).u64(0).bytes,
                     "tensor #0", "tensor name length 500", "offset 24");
}

TEST(GgufDamaged, ArrayCountPastTheEnd) {
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("arr").u32(9).u32(kU32).u64(1000).u32(1).bytes,
                     "key 'arr'", "array count 1000", "past the end of the file", "offset 43");
  // Huge counts of strings or nested arrays are refused before any allocation.
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("arr").u32(9).u32(8).u64(1ull << 61).bytes,
                     "key 'arr'", "array count 2305843009213693952");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("arr").u32(9).u32(9).u64(~0ull >> 1).bytes,
                     "key 'arr'", "array count");
  // Nested: the inner array's count is checked too.
  EXPECT_PARSE_ERROR(
      RawGguf().header(0, 1).str("n").u32(9).u32(9).u64(1).u32(kU32).u64(5).u32(1).bytes, "key 'n'",
      "array count 5", "offset 53");
}

TEST(GgufDamaged, UnknownValueTypes) {
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("k").u32(13).u32(0).bytes, "key 'k'",
                     "unknown value type 13", "offset 33");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("k").u32(0xffffffff).u32(0).bytes,
                     "unknown value type 4294967295");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("k").u32(9).u32(99).u64(0).bytes, "key 'k'",
                     "unknown array element type 99", "offset 37");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("k").u32(7).u8(2).bytes, "key 'k'",
                     "bool value 2 is neither 0 nor 1", "offset 37");
}

TEST(GgufDamaged, ArraysNestedTooDeep) {
  RawGguf f;
  f.header(0, 1).str("deep").u32(9);
  for (int level = 0; level < 20; ++level) f.u32(9).u64(1);
  f.u32(kU32).u64(0);
  EXPECT_PARSE_ERROR(f.bytes, "key 'deep'", "nested more than 8 deep");
}

TEST(GgufDamaged, MemoryLimitsOnArrays) {
  // The bytes are present, but an in-memory Value is many times its encoding.
  RawGguf big;
  big.header(0, 1).str("big").u32(9).u32(0 /*u8*/).u64(kMaxArrayElements + 1);
  big.bytes.resize(big.size() + kMaxArrayElements + 1);
  EXPECT_PARSE_ERROR(big.bytes, "key 'big'", "array count 16777217 exceeds the limit", "offset 43");

  RawGguf many;
  many.header(0, 1).str("many").u32(9).u32(9).u64(kMaxNestedArrays + 1);
  for (uint64_t k = 0; k <= kMaxNestedArrays; ++k) many.u32(kU32).u64(0);
  EXPECT_PARSE_ERROR(many.bytes, "key 'many'", "more than 65536 nested arrays");
}

TEST(GgufDamaged, DuplicateKey) {
  RawGguf f;
  f.header(0, 2).str("k").u32(kU32).u32(1);
  const size_t second = f.size();
  f.str("k").u32(kU32).u32(2);
  EXPECT_PARSE_ERROR(f.bytes, "key 'k'", "duplicate key", "offset " + std::to_string(second));
}

TEST(GgufDamaged, HostileNamesAreEscapedInMessages) {
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("a\x01'b\n").u32(13).bytes,
                     "key 'a\\x01\\x27b\\x0a'");
  const std::string long_name(5000, 'n');
  const std::string message = parse_error(RawGguf().header(0, 1).str(long_name).u32(13).bytes);
  EXPECT_LT(message.size(), 400u);
  EXPECT_NE(message.find("(5000 bytes)"), std::string::npos) << message;
}

// ---- alignment ----

TEST(GgufDamaged, BadAlignment) {
  const auto with_alignment = [](uint32_t type, uint32_t value) {
    return RawGguf().header(0, 1).str("general.alignment").u32(type).u32(value).bytes;
  };
  EXPECT_PARSE_ERROR(with_alignment(kU32, 0), "'general.alignment'", "alignment 0", "power of two",
                     "offset 49");
  EXPECT_PARSE_ERROR(with_alignment(kU32, 3), "'general.alignment'", "alignment 3");
  EXPECT_PARSE_ERROR(with_alignment(5 /*i32*/, 32), "'general.alignment'", "has type i32",
                     "expected u32");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("general.alignment").u32(10).u64(32).bytes,
                     "'general.alignment'", "has type u64");
  EXPECT_PARSE_ERROR(RawGguf().header(0, 1).str("general.alignment").u32(8).str("32").bytes,
                     "'general.alignment'", "has type string");
  EXPECT_EQ(parse(with_alignment(kU32, 1))->alignment(), 1u);
}

// ---- tensor infos ----

TEST(GgufDamaged, UnknownTensorType) {
  EXPECT_PARSE_ERROR(one_tensor({4}, 99, 0, 16), "tensor 't'", "unknown tensor type 99",
                     "offset 45");
  EXPECT_PARSE_ERROR(one_tensor({4}, 4, 0, 16), "unknown tensor type 4");  // Q4_2, removed
}

TEST(GgufDamaged, DimensionCount) {
  EXPECT_PARSE_ERROR(one_tensor({1, 1, 1, 1, 1}, kF32Type, 0, 4), "tensor 't'", "n_dims 5",
                     "offset 33");
  EXPECT_PARSE_ERROR(one_tensor({}, kF32Type, 0, 4), "tensor 't'", "n_dims 0");
  EXPECT_PARSE_ERROR(RawGguf().header(1, 0).str("t").u32(0xffffffff).u64(0).u64(0).u64(0).bytes,
                     "n_dims 4294967295");
}

TEST(GgufDamaged, DimensionsOutOfRange) {
  EXPECT_PARSE_ERROR(one_tensor({4, 1ull << 63}, kF32Type, 0, 16), "tensor 't'",
                     "dimension 1 is 9223372036854775808 (negative as int64)", "offset 45");
  EXPECT_PARSE_ERROR(one_tensor({1ull << 32, 1ull << 32}, kF32Type, 0, 16), "tensor 't'",
                     "element count overflows int64", "offset 45");
  EXPECT_PARSE_ERROR(one_tensor({1ull << 31, 1ull << 31}, kF64Type, 0, 16), "tensor 't'",
                     "byte size", "overflows");
  EXPECT_PARSE_ERROR(one_tensor({31, 2}, kQ8_0Type, 0, 68), "tensor 't'", "shape[0] = 31",
                     "Q8_0 block size 32");
}

TEST(GgufDamaged, TensorDataPastTheEnd) {
  EXPECT_PARSE_ERROR(one_tensor({1000}, kF32Type, 0, 64), "tensor 't'", "data [64, 4064)",
                     "past the end of the file (128 bytes)");
  EXPECT_PARSE_ERROR(one_tensor({4}, kF32Type, 1ull << 40, 64), "tensor 't'",
                     "past the end of the file");
  // Offsets near 2^64 must not wrap around.
  EXPECT_PARSE_ERROR(one_tensor({4}, kF32Type, ~0ull - 31, 64), "tensor 't'",
                     "past the end of the file");
  EXPECT_PARSE_ERROR(one_tensor({1ull << 61}, kF32Type, 0, 64), "tensor 't'",
                     "past the end of the file");
  // A tensor that ends exactly at the end of the file is fine.
  EXPECT_EQ(parse(one_tensor({16}, kF32Type, 0, 64))->tensors()[0].n_bytes, 64u);
}

TEST(GgufDamaged, MisalignedOffset) {
  EXPECT_PARSE_ERROR(one_tensor({4}, kF32Type, 4, 64), "tensor 't'", "data offset 4",
                     "not a multiple of the alignment 32", "offset 49");
  RawGguf f;
  f.header(1, 1).str("general.alignment").u32(kU32).u32(64).tensor("t", {4}, kF32Type, 32);
  f.pad_to(64).bytes.resize(f.size() + 128);
  EXPECT_PARSE_ERROR(f.bytes, "tensor 't'", "not a multiple of the alignment 64");
}

TEST(GgufDamaged, DuplicateTensorName) {
  RawGguf f;
  f.header(2, 0).tensor("t", {4}, kF32Type, 0);
  const size_t second = f.size();
  f.tensor("t", {4}, kF32Type, 32).pad_to(32).bytes.resize(f.size() + 64);
  EXPECT_PARSE_ERROR(f.bytes, "tensor 't'", "duplicate tensor name",
                     "offset " + std::to_string(second));
}

TEST(GgufDamaged, DataSectionPastTheEnd) {
  RawGguf f;
  f.header(1, 0).tensor("empty", {0}, kF32Type, 0);  // 0 bytes of data, no padding
  ASSERT_NE(f.size() % 32, 0u);
  EXPECT_PARSE_ERROR(f.bytes,
                     "data section starts at offset 64, past the end of the file (61 "
                     "bytes)");
  // Without tensors a file may end right after the directory (vocab-only files do).
  RawGguf vocab;
  vocab.header(0, 1).str("k").u32(kU32).u32(7);
  EXPECT_EQ(parse(vocab.bytes)->get_int("k"), 7);
}

// ---- through open() ----

TEST(GgufDamaged, OpenNamesThePath) {
  const std::string missing = "/nonexistent/dir/model.gguf";
  try {
    GgufFile::open(missing);
    ADD_FAILURE() << "opened a missing file";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("loom_gguf_damaged_" + std::to_string(::getpid()) + ".gguf"))
                               .string();
  std::vector<uint8_t> bytes = small_file();
  bytes.resize(bytes.size() - 7);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "opened a truncated file";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": tensor 'q.weight'"), std::string::npos)
        << e.what();
  }
  std::ofstream(path, std::ios::trunc).close();  // empty file: nothing to map
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "opened an empty file";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(GgufFile::from_memory(nullptr, 0), loom::Error);
}

}  // namespace
}  // namespace loom::gguf::test
