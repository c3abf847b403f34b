// quantize_model(): the per-tensor type choice of llama.cpp's llama_tensor_get_type for
// the supported file types, and re-encoding through the kernels' reference quantizers.
#include "loom/quantize.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "kernels/quantize.h"

namespace loom {
namespace {

struct FileType {
  const char* name;
  DType base;        // the type most tensors get
  bool k_mix;        // Q4_K_M / Q5_K_M: Q6_K for output and some attn_v / ffn_down
  uint32_t ggml_id;  // general.file_type (llama_ftype)
};

constexpr FileType kFileTypes[] = {
    {"Q8_0", DType::Q8_0, false, 7},   {"Q4_0", DType::Q4_0, false, 2},
    {"Q4_K_M", DType::Q4_K, true, 15}, {"Q5_K_M", DType::Q5_K, true, 17},
    {"Q6_K", DType::Q6_K, false, 18},  {"Q4_K", DType::Q4_K, true, 15},
    {"Q5_K", DType::Q5_K, true, 17},
};

const FileType& file_type_from(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const FileType& f : kFileTypes) {
    if (upper == f.name) return f;
  }
  fail("quantize: unknown type '{}' (expected Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K)", name);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The layer number of "blk.N.<...>", or -1.
int64_t layer_of(std::string_view name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  int64_t n = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    n = n * 10 + (name[i] - '0');
  }
  return n;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third
// layer in between, get the wider type in the _M mixes.
bool use_more_bits(int64_t i_layer, int64_t n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// A type the tensor's rows divide into: K-quants fall back to Q8_0 (llama.cpp picks
// Q5_0/Q5_1/Q8_0, which loom does not all compute), then F16.
DType fitting_type(DType type, int64_t row_elements) {
  if (row_elements % dtype_traits(type).block_size == 0) return type;
  if (row_elements % dtype_traits(DType::Q8_0).block_size == 0) return DType::Q8_0;
  return DType::F16;
}

struct Plan {
  const gguf::TensorInfo* tensor;
  DType type;
  bool convert;  // re-encode (else copy the bytes)
};

DType choose_type(const FileType& ft, const gguf::TensorInfo& t, bool has_output, int64_t n_attn_v,
                  int64_t n_ffn_down) {
  const std::string& name = t.name;
  DType type = ft.base;
  const bool is_output = name == "output.weight" || (!has_output && name == "token_embd.weight");
  if (is_output) {
    // llama.cpp: Q8_0 stays Q8_0, everything else gets Q6_K for the output matrix.
    if (t.shape[0] % dtype_traits(type).block_size != 0) {
      type = DType::Q8_0;
    } else if (type != DType::Q8_0) {
      type = DType::Q6_K;
    }
  } else if (ft.k_mix && name.find("attn_v.weight") != std::string::npos) {
    if (use_more_bits(layer_of(name), n_attn_v)) type = DType::Q6_K;
  } else if (ft.k_mix && name.find("ffn_down") != std::string::npos) {
    if (use_more_bits(layer_of(name), n_ffn_down)) type = DType::Q6_K;
  }
  return fitting_type(type, t.shape[0]);
}

// Re-encodes the tensor's rows in `type`, rows split over the pool.
gguf::GgufWriter::Fill convert(const gguf::TensorInfo& t, DType type, ThreadPool& pool) {
  return [&t, type, &pool](std::span<uint8_t> out) {
    const int64_t cols = t.shape[0];
    const int64_t rows = t.n_elements / cols;
    const int64_t in_stride = row_bytes(t.type, cols);
    const int64_t out_stride = row_bytes(type, cols);
    pool.parallel_for(rows, [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t r = begin; r < end; ++r) {
        kernels::dequantize_row(t.type, t.data + r * in_stride, row.data(), cols);
        kernels::quantize_row(type, row.data(), out.data() + r * out_stride, cols);
      }
    });
  };
}

}  // namespace

std::vector<std::string> quantize_types() {
  return {"Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"};
}

QuantizeResult quantize_model(const QuantizeOptions& options,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  const FileType& ft = file_type_from(options.type);
  if (options.input_path.empty()) fail("quantize: an input path is needed");
  if (options.output_path.empty()) fail("quantize: an output path is needed");
  if (options.input_path == options.output_path) {
    fail("quantize: the output '{}' would overwrite the input", options.output_path);
  }
  const std::unique_ptr<gguf::GgufFile> in = gguf::GgufFile::open(options.input_path);

  bool has_output = false;
  int64_t n_attn_v = 0;
  int64_t n_ffn_down = 0;
  for (const gguf::TensorInfo& t : in->tensors()) {
    if (t.name == "output.weight") has_output = true;
    if (t.name.find("attn_v.weight") != std::string::npos) ++n_attn_v;
    if (t.name.find("ffn_down") != std::string::npos) ++n_ffn_down;
  }

  gguf::GgufWriter w;
  for (const std::string& key : in->keys()) w.add_value(key, *in->find(key));
  w.add_u32("general.quantization_version", 2);
  w.add_u32("general.file_type", ft.ggml_id);

  ThreadPool pool(options.threads);
  QuantizeResult result;
  for (const gguf::TensorInfo& t : in->tensors()) {
    ++result.n_tensors;
    result.input_bytes += t.n_bytes;
    const bool matrix = t.shape.size() >= 2 && ends_with(t.name, ".weight");
    DType type = t.type;
    if (matrix) {
      type = choose_type(ft, t, has_output, n_attn_v, n_ffn_down);
      if (type != t.type && !is_computable(t.type)) {
        fail("quantize: tensor '{}' is {}, which loom cannot read to re-encode", t.name,
             dtype_name(t.type));
      }
    }
    result.tensors_by_type[std::string(dtype_name(type))] += 1;
    if (type == t.type) {
      const gguf::TensorInfo* source = &t;
      w.add_tensor(t.name, t.type, t.shape, [source](std::span<uint8_t> out) {
        std::memcpy(out.data(), source->data, out.size());
      });
      result.output_bytes += t.n_bytes;
    } else {
      ++result.n_quantized;
      w.add_tensor(t.name, type, t.shape, convert(t, type, pool));
      result.output_bytes += static_cast<uint64_t>(t.n_elements / t.shape[0]) *
                             static_cast<uint64_t>(row_bytes(type, t.shape[0]));
    }
  }
  w.write(options.output_path, progress);
  return result;
}

}  // namespace loom
