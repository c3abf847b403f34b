// Helpers for the GGUF tests: a raw byte builder for files the writer refuses to make
// (duplicate keys, unknown types, old versions), a small valid file, and assertions on
// the loom::Error a damaged image produces.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "loom/error.h"

namespace loom::gguf::test {

// Appends little-endian GGUF fields, so a test spells out a file field by field.
struct RawGguf {
  std::vector<uint8_t> bytes;

  RawGguf& u8(uint8_t v) { return put(&v, 1); }
  RawGguf& u32(uint32_t v) { return put(&v, 4); }
  RawGguf& u64(uint64_t v) { return put(&v, 8); }
  RawGguf& str(std::string_view s) {
    u64(s.size());
    return put(s.data(), s.size());
  }
  RawGguf& put(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
    return *this;
  }
  RawGguf& pad_to(size_t alignment) {
    while (bytes.size() % alignment != 0) bytes.push_back(0);
    return *this;
  }
  // Magic, version and the two counts.
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    put("GGUF", 4);
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  // A tensor info: name, n_dims, dims, type, offset.
  RawGguf& tensor(std::string_view name, std::initializer_list<uint64_t> dims, uint32_t type,
                  uint64_t offset) {
    str(name);
    u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    u32(type);
    return u64(offset);
  }
  size_t size() const { return bytes.size(); }
};

inline void store_u32(std::vector<uint8_t>& bytes, size_t at, uint32_t v) {
  std::memcpy(bytes.data() + at, &v, 4);
}
inline void store_u64(std::vector<uint8_t>& bytes, size_t at, uint64_t v) {
  std::memcpy(bytes.data() + at, &v, 8);
}

// Offset of the first occurrence of `needle` (e.g. a key's text) in `bytes`.
inline size_t find_bytes(const std::vector<uint8_t>& bytes, std::string_view needle) {
  const auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  EXPECT_NE(it, bytes.end()) << "'" << needle << "' not in the file";
  return static_cast<size_t>(it - bytes.begin());
}

inline std::unique_ptr<GgufFile> parse(const std::vector<uint8_t>& bytes) {
  return GgufFile::from_memory(bytes.data(), bytes.size(), "test.gguf");
}

// The message of the loom::Error that parsing `bytes` throws ("" and a test failure
// when it parses).
inline std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    parse(bytes);
  } catch (const loom::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "the damaged image parsed without an error";
  return "";
}

// Expects parsing to fail with a message that contains every one of `parts`.
#define EXPECT_PARSE_ERROR(bytes, ...)                                                 \
  do {                                                                                 \
    const std::string message_ = ::loom::gguf::test::parse_error(bytes);               \
    for (const std::string& part_ : std::initializer_list<std::string>{__VA_ARGS__}) { \
      EXPECT_NE(message_.find(part_), std::string::npos)                               \
          << "message \"" << message_ << "\" lacks \"" << part_ << "\"";               \
    }                                                                                  \
  } while (0)

// Bytes 0, 1, 2, ... (mod 251) so every tensor's data is distinguishable.
inline std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t k = 0; k < n; ++k) out[k] = static_cast<uint8_t>((k + seed) % 251);
  return out;
}

// A small valid file: a string, an array of strings, a u32 and two tensors (F32 and
// Q8_0). The last tensor's size is a multiple of 32, so the file has no trailing
// padding and every byte matters.
inline GgufWriter small_writer() {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
  w.add_u32("llama.block_count", 2);
  w.add_tensor("norm.weight", DType::F32, {6}, pattern(24, 1));
  w.add_tensor("q.weight", DType::Q8_0, {32, 16}, pattern(16 * 34, 2));
  return w;
}

inline std::vector<uint8_t> small_file() {
  return small_writer().to_bytes();
}

}  // namespace loom::gguf::test
