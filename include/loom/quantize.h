// Model quantization, as llama.cpp's llama-quantize does it: every 2-D weight matrix is
// re-encoded in the target type (or the file type's choice for that tensor), 1-D tensors
// (norms) stay as they are, and metadata is copied with general.file_type updated.
//
//   loom::quantize_model({.input_path = "f32.gguf", .output_path = "q4km.gguf",
//                         .type = "Q4_K_M"});
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace loom {

struct QuantizeOptions {
  std::string input_path;
  std::string output_path;
  std::string type;  // one of quantize_types(), case-insensitive
  int threads = 0;   // 0 = one per core
};

struct QuantizeResult {
  int64_t n_tensors = 0;
  int64_t n_quantized = 0;                         // tensors re-encoded (the others are copied)
  uint64_t input_bytes = 0;                        // tensor data
  uint64_t output_bytes = 0;                       // tensor data
  std::map<std::string, int64_t> tensors_by_type;  // output type name -> count
};

// Names accepted as QuantizeOptions::type: Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K (with Q4_K
// and Q5_K as their plain forms).
std::vector<std::string> quantize_types();

// Writes the quantized model. Tensors whose rows do not divide into the chosen type's
// blocks keep a wider type (Q8_0 when it fits, else F16), as stories260K's ffn_down does.
// progress(done_bytes, total_bytes) of output tensor data is called as tensors are
// written. Throws loom::Error on a bad type, an unreadable input or a write failure.
QuantizeResult quantize_model(const QuantizeOptions& options,
                              const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace loom
