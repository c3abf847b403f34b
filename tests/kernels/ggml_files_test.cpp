// quantize_row must write the same bytes llama.cpp's quantizer wrote: the Q8_0 and Q4_0
// test models in ../shared/models were quantized by it from the F32 model, so quantizing
// the F32 tensors again must reproduce them exactly. Reads the files with a minimal GGUF
// walker of its own so that the kernel tests depend on nothing but the kernels.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "kernels/quantize.h"

namespace loom::kernels {
namespace {

struct Tensor {
  DType type;
  std::vector<int64_t> dims;
  const uint8_t* data;
};

class GgufTensors {
 public:
  explicit GgufTensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    parse();
  }
  bool ok() const { return ok_; }
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }

 private:
  template <typename T>
  T read() {
    T v{};
    if (pos_ + sizeof(T) > bytes_.size()) throw std::runtime_error("truncated GGUF");
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string() {
    const auto n = read<uint64_t>();
    if (pos_ + n > bytes_.size()) throw std::runtime_error("truncated GGUF");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  // Skips one metadata value of `type`; returns it when it is an integer (for alignment).
  uint64_t skip_value(uint32_t type) {
    static constexpr size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      read_string();
      return 0;
    }
    if (type == 9) {
      const auto item_type = read<uint32_t>();
      const auto count = read<uint64_t>();
      for (uint64_t i = 0; i < count; ++i) skip_value(item_type);
      return 0;
    }
    if (type >= std::size(kSizes)) throw std::runtime_error("bad GGUF value type");
    uint64_t v = 0;
    std::memcpy(&v, bytes_.data() + pos_, kSizes[type]);
    pos_ += kSizes[type];
    return v;
  }
  void parse() {
    if (read<uint32_t>() != 0x46554747u) return;  // "GGUF"
    read<uint32_t>();                             // version
    const auto n_tensors = read<uint64_t>();
    const auto n_kv = read<uint64_t>();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key = read_string();
      const auto type = read<uint32_t>();
      const uint64_t v = skip_value(type);
      if (key == "general.alignment") alignment = v;
    }
    std::vector<std::pair<std::string, std::pair<Tensor, uint64_t>>> infos;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      std::string name = read_string();
      Tensor t{};
      const auto n_dims = read<uint32_t>();
      for (uint32_t d = 0; d < n_dims; ++d)
        t.dims.push_back(static_cast<int64_t>(read<uint64_t>()));
      t.type = static_cast<DType>(read<uint32_t>());
      const auto offset = read<uint64_t>();
      infos.push_back({std::move(name), {t, offset}});
    }
    const uint64_t data_start = (pos_ + alignment - 1) / alignment * alignment;
    for (auto& [name, info] : infos) {
      info.first.data = bytes_.data() + data_start + info.second;
      tensors_[name] = info.first;
    }
    ok_ = true;
  }

  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
  bool ok_ = false;
  std::map<std::string, Tensor> tensors_;
};

std::string model_path(const std::string& file) {
  const char* dir = std::getenv("LOOM_SHARED_DIR");
  return std::string(dir != nullptr ? dir : LOOM_SHARED_DIR) + "/models/" + file;
}

// Requantizes every tensor of `quantized_file` from the F32 file and compares the bytes.
void expect_requantizes_exactly(const std::string& quantized_file, DType expected_type) {
  const GgufTensors f32(model_path("stories260K.gguf"));
  const GgufTensors quantized(model_path(quantized_file));
  if (!f32.ok() || !quantized.ok()) GTEST_SKIP() << "test models not found";
  int checked_of_expected_type = 0;
  for (const auto& [name, q] : quantized.tensors()) {
    SCOPED_TRACE(name);
    const auto source = f32.tensors().find(name);
    ASSERT_NE(source, f32.tensors().end());
    ASSERT_EQ(source->second.type, DType::F32);
    ASSERT_EQ(source->second.dims, q.dims);
    const int64_t cols = q.dims[0];
    int64_t rows = 1;
    for (size_t d = 1; d < q.dims.size(); ++d) rows *= q.dims[d];
    const auto* src = reinterpret_cast<const float*>(source->second.data);
    const int64_t stride = row_bytes(q.type, cols);
    std::vector<uint8_t> row(stride);
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(q.type, src + r * cols, row.data(), cols);
      ASSERT_EQ(std::memcmp(row.data(), q.data + r * stride, stride), 0) << "row " << r;
    }
    if (q.type == expected_type) ++checked_of_expected_type;
  }
  EXPECT_GT(checked_of_expected_type, 10);
}

TEST(GgmlFiles, Q8_0ModelRequantizesByteForByte) {
  expect_requantizes_exactly("stories260K-q8_0.gguf", DType::Q8_0);
}

TEST(GgmlFiles, Q4_0ModelRequantizesByteForByte) {
  expect_requantizes_exactly("stories260K-q4_0.gguf", DType::Q4_0);
}

}  // namespace
}  // namespace loom::kernels
