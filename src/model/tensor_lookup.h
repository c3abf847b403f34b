// Finds a model's tensors in its GGUF file and checks their shapes and types, so that a
// file with a missing or mis-shaped tensor fails at load time with its name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/matmul.h"

namespace loom::gguf {
class GgufFile;
}

namespace loom {

bool has_tensor(const gguf::GgufFile& file, const std::string& name);
// A (rows, cols) matrix in GGUF's shape [cols, rows], of a type the kernels compute.
kernels::WeightMatrix weight_matrix(const gguf::GgufFile& file, const std::string& name,
                                    int64_t rows, int64_t cols);
// w with its packed copy for the SIMD matmul kernels (Q4_0 and Q8_0, when the CPU runs
// them; otherwise w as it is). The file's pages under the packed rows are released, so the
// copy takes their place in memory instead of doubling it; `packed_bytes` grows by its size.
kernels::WeightMatrix prepare_for_matmul(kernels::WeightMatrix w, int64_t& packed_bytes);

// Puts `packed` (w's rows in the packed layout) in place and releases the file's pages
// under w's rows, as prepare_for_matmul does.
void install_packed(kernels::WeightMatrix& w, std::shared_ptr<const kernels::PackedWeights> packed);
// A vector of n values (norm weights), converted to f32.
std::vector<float> weight_vector(const gguf::GgufFile& file, const std::string& name, int64_t n);

}  // namespace loom
