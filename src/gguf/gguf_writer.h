// Writes GGUF version 3 files: metadata first, then tensor infos, then aligned tensor
// data. Tensor data is produced by a callback when the file is written, so a multi-GB
// model can be generated without holding it in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf_value.h"

namespace loom::gguf {

class GgufWriter {
 public:
  // Fills `out` (exactly the tensor's byte size) with the tensor's data.
  using Fill = std::function<void(std::span<uint8_t> out)>;

  void set_alignment(uint64_t alignment);  // writes general.alignment when not 32

  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_u64(const std::string& key, uint64_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_f32_array(const std::string& key, const std::vector<float>& v);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
  // Copies a value read from another file (e.g. a tokenizer), keeping its types.
  // Every add_* throws loom::Error on a value that does not fit its type. Adding a key
  // again replaces its value in place; "general.alignment" (u32) calls set_alignment.
  void add_value(const std::string& key, const Value& v);

  // shape in ggml order (shape[0] contiguous, 1..4 dims); shape[0] must divide into
  // blocks. Throws loom::Error on a bad shape, a duplicate name or a data size mismatch.
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> shape, Fill fill);
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                  std::vector<uint8_t> data);

  // Writes the file; throws loom::Error naming the path on an I/O failure.
  // `progress(done_bytes, total_bytes)` is called after each tensor when given.
  void write(const std::string& path,
             const std::function<void(uint64_t, uint64_t)>& progress = nullptr) const;
  // The whole file as bytes (for tests).
  std::vector<uint8_t> to_bytes() const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    uint64_t n_bytes;
    Fill fill;
  };
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace loom::gguf
