#include "model/model_config.h"

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace loom {
namespace {

int64_t required_int(const gguf::GgufFile& file, const std::string& key) {
  const std::optional<int64_t> value = file.get_int(key);
  if (!value) fail("{}: required metadata key '{}' is missing", file.path(), key);
  if (*value <= 0) fail("{}: metadata key '{}' must be positive, got {}", file.path(), key, *value);
  return *value;
}

}  // namespace

ModelConfig ModelConfig::from_gguf(const gguf::GgufFile& file) {
  ModelConfig c;
  const std::optional<std::string> arch = file.get_string("general.architecture");
  if (!arch) fail("{}: metadata key 'general.architecture' is missing", file.path());
  c.architecture = *arch;
  c.name = file.get_string("general.name").value_or("");
  const std::string p = c.architecture + ".";

  c.n_ctx_train = required_int(file, p + "context_length");
  c.n_embd = required_int(file, p + "embedding_length");
  c.n_layer = required_int(file, p + "block_count");
  c.n_ff = required_int(file, p + "feed_forward_length");
  c.n_head = required_int(file, p + "attention.head_count");
  c.n_head_kv = file.get_int(p + "attention.head_count_kv").value_or(c.n_head);
  c.head_dim = file.get_int(p + "attention.key_length").value_or(c.n_embd / c.n_head);
  c.n_rot = file.get_int(p + "rope.dimension_count").value_or(c.head_dim);
  const int64_t value_dim = file.get_int(p + "attention.value_length").value_or(c.head_dim);
  if (value_dim != c.head_dim) {
    fail(
        "{}: '{}attention.value_length' ({}) differs from the key length ({}); loom needs "
        "them equal",
        file.path(), p, value_dim, c.head_dim);
  }
  if (c.head_dim <= 0) fail("{}: '{}attention.key_length' must be positive", file.path(), p);

  if (c.n_head_kv <= 0 || c.n_head % c.n_head_kv != 0) {
    fail("{}: '{}attention.head_count' ({}) must be a multiple of 'attention.head_count_kv' ({})",
         file.path(), p, c.n_head, c.n_head_kv);
  }
  if (c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    fail("{}: '{}rope.dimension_count' ({}) must be even and at most the head size ({})",
         file.path(), p, c.n_rot, c.head_dim);
  }
  if (const std::optional<int64_t> v = file.get_int(p + "vocab_size")) {
    c.n_vocab = *v;
  } else if (const auto* tokens = file.get_string_array("tokenizer.ggml.tokens")) {
    c.n_vocab = static_cast<int64_t>(tokens->size());
  }
  return c;
}

}  // namespace loom
