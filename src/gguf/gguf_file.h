// A GGUF file (versions 2 and 3), memory-mapped and fully validated on open: every
// count, length, offset, type and shape is checked against the file size before use, so
// a truncated, corrupt or hostile file gets a loom::Error naming the key or tensor and
// the byte offset, never a crash, an out-of-bounds read or a huge allocation.
// Tensor data stays in the mapping; nothing is copied.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf_value.h"

namespace loom::gguf {

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  uint64_t offset = 0;         // from the start of the data section
  int64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
};

class GgufFile {
 public:
  // Maps and validates the file. Throws loom::Error on any problem.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Validates an in-memory image (used by tests and fuzzers). The bytes must outlive
  // the returned object.
  static std::unique_ptr<GgufFile> from_memory(const uint8_t* data, size_t size,
                                               std::string name = "<memory>");
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  // Start of the data section; the file size for a tensor-less file that ends without
  // the padding (vocab-only files often do).
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order.
  const std::vector<std::string>& keys() const { return keys_; }
  const Value* find(std::string_view key) const;

  // Typed look-ups. nullopt when the key is absent; loom::Error naming the key when it
  // is present with the wrong type (an integer getter accepts any integer type whose
  // value fits; a float getter accepts floats and integers).
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // Array look-ups: nullptr when absent, loom::Error when not an array of that kind.
  const std::vector<std::string>* get_string_array(std::string_view key) const;
  const Value* get_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void parse();

  std::string path_;
  const uint8_t* bytes_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when this object owns an mmap of size_ bytes
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::string> keys_;
  std::map<std::string, Value, std::less<>> values_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace loom::gguf
