// Bounds-checked little-endian reads from an in-memory file image. Every read checks the
// bytes that remain first, so a truncated or hostile file gets a loom::Error naming the
// file, what was being read (the current key or tensor) and the byte offset.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/error.h"

namespace loom::gguf {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader maps little-endian files directly");

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, uint64_t size, std::string_view file)
      : data_(data), size_(size), file_(file) {}

  uint64_t offset() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }

  // What is being parsed, e.g. "key 'general.name'"; prefixed to every error message.
  void set_context(std::string context) { context_ = std::move(context); }

  // Throws when fewer than `n` bytes remain; `what` names the field being read.
  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      fail_at(pos_,
              fmt::format("file truncated: {} needs {} bytes but only {} remain (file is {} bytes)",
                          what, n, remaining(), size_));
    }
  }

  template <typename T>
  T read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // A GGUF string: u64 byte length, then the bytes (not NUL-terminated).
  std::string read_string(std::string_view what) {
    const uint64_t at = pos_;
    const uint64_t length = read<uint64_t>(what);
    if (length > remaining()) {
      fail_at(at, fmt::format("{} length {} runs past the end of the file ({} bytes)", what, length,
                              size_));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return s;
  }

  // Throws loom::Error: "gguf: FILE: CONTEXT: MESSAGE at offset N".
  [[noreturn]] void fail_at(uint64_t offset, std::string_view message) const {
    if (context_.empty()) fail("gguf: {}: {} at offset {}", file_, message, offset);
    fail("gguf: {}: {}: {} at offset {}", file_, context_, message, offset);
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string_view file_;
  std::string context_;
};

}  // namespace loom::gguf
