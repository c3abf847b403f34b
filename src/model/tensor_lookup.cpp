#include "model/tensor_lookup.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "core/memory.h"
#include "gguf/gguf_file.h"
#include "kernels/quantize.h"

namespace loom {
namespace {

const gguf::TensorInfo& find(const gguf::GgufFile& file, const std::string& name) {
  const gguf::TensorInfo* info = file.find_tensor(name);
  if (info == nullptr) fail("{}: required tensor '{}' is missing", file.path(), name);
  if (!is_computable(info->type)) {
    fail("{}: tensor '{}' has type {}, which loom cannot compute yet", file.path(), name,
         dtype_name(info->type));
  }
  return *info;
}

void expect_shape(const gguf::GgufFile& file, const gguf::TensorInfo& info,
                  const std::vector<int64_t>& shape) {
  if (info.shape != shape) {
    fail("{}: tensor '{}' has shape [{}], expected [{}]", file.path(), info.name,
         fmt::join(info.shape, ", "), fmt::join(shape, ", "));
  }
}

}  // namespace

bool has_tensor(const gguf::GgufFile& file, const std::string& name) {
  return file.find_tensor(name) != nullptr;
}

kernels::WeightMatrix weight_matrix(const gguf::GgufFile& file, const std::string& name,
                                    int64_t rows, int64_t cols) {
  const gguf::TensorInfo& info = find(file, name);
  expect_shape(file, info, {cols, rows});
  return {info.type, rows, cols, info.data};
}

kernels::WeightMatrix prepare_for_matmul(kernels::WeightMatrix w, int64_t& packed_bytes) {
  if (!kernels::packed_layout_used(w.type)) return w;
  std::shared_ptr<const kernels::PackedWeights> packed = kernels::pack_weights(w);
  if (packed != nullptr) {
    packed_bytes += static_cast<int64_t>(packed->data.size());
    install_packed(w, std::move(packed));
  }
  return w;
}

void install_packed(kernels::WeightMatrix& w,
                    std::shared_ptr<const kernels::PackedWeights> packed) {
  w.packed = std::move(packed);
  release_pages(w.data, static_cast<size_t>(w.rows * row_bytes(w.type, w.cols)));
}

std::vector<float> weight_vector(const gguf::GgufFile& file, const std::string& name, int64_t n) {
  const gguf::TensorInfo& info = find(file, name);
  expect_shape(file, info, {n});
  std::vector<float> values(static_cast<size_t>(n));
  kernels::dequantize_row(info.type, info.data, values.data(), n);
  return values;
}

}  // namespace loom
