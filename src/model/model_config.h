// Hyperparameters of a model (sizes), read from the `<arch>.*` keys of its GGUF metadata.
// What the architecture does with them is model/arch_spec.h.
#pragma once

#include <cstdint>
#include <string>

namespace loom::gguf {
class GgufFile;
}

namespace loom {

struct ModelConfig {
  std::string architecture;  // general.architecture, e.g. "llama"
  std::string name;          // general.name when present
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;  // context length the model was trained with
  int64_t n_embd = 0;       // hidden size
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;  // grouped-query attention: n_head is a multiple of it
  int64_t head_dim = 0;
  int64_t n_ff = 0;   // feed-forward hidden size
  int64_t n_rot = 0;  // rotated dimensions per head (when the architecture uses RoPE)

  int64_t kv_dim() const { return n_head_kv * head_dim; }
  int64_t q_dim() const { return n_head * head_dim; }

  // Reads and checks the hyperparameters; loom::Error naming the key when one is
  // missing or inconsistent.
  static ModelConfig from_gguf(const gguf::GgufFile& file);
};

}  // namespace loom
