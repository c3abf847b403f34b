// Benchmark-model generator: a GGUF file with random weights at a real model's shape
// and a real tokenizer, so speed can be measured at sizes no test model ships at.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace loom {

struct SynthOptions {
  std::string shape = "tinyllama-1.1b";  // see synth_shapes()
  std::string type = "q4_0";             // f32, f16, bf16, q8_0, q4_0
  std::string tokenizer_path;            // a GGUF whose tokenizer.* metadata is copied, or a
                                         // tokenizer.json (byte-level BPE, Llama 3 split)
  std::string output_path;
  uint64_t seed = 1;
  int threads = 0;      // 0 = one per core
  int64_t n_layer = 0;  // 0 = the shape's; fewer (at least 1) writes the shape's first
                        // layers only, at its real widths: a quick model for tests
};

// Names of the shapes synthesize_model knows, with a one-line description each.
std::vector<std::pair<std::string, std::string>> synth_shapes();

// Writes the model; progress(done_bytes, total_bytes) as tensors are written.
void synthesize_model(const SynthOptions& options,
                      const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace loom
