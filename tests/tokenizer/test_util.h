// Helpers shared by the tokenizer tests: paths into ../shared and vocabulary loading.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace loom::test {

inline std::string shared_path(const std::string& relative) {
  return std::string(LOOM_SHARED_DIR) + "/" + relative;
}

inline std::string vocab_path(const std::string& name) {
  return shared_path("tokenizer-tests/ggml-vocab-" + name + ".gguf");
}

// The tokenizer of a vocab-only GGUF in shared/tokenizer-tests, or of any GGUF path.
inline std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path) {
  const auto file = gguf::GgufFile::open(path);
  return Tokenizer::from_gguf(*file);
}
inline std::unique_ptr<Tokenizer> load_vocab(const std::string& name) {
  return load_tokenizer_file(vocab_path(name));
}

}  // namespace loom::test
