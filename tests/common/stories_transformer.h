// stories260K (F32) loaded once per test binary, for the runtime tests that step the
// model directly (no tokenizer, no Engine).
#pragma once

#include <memory>
#include <string>

#include "gguf/gguf_file.h"
#include "model/transformer.h"

namespace loom::testing_support {

inline std::shared_ptr<const Transformer> stories_transformer() {
  static const std::shared_ptr<const Transformer> m = [] {
    auto file = std::shared_ptr<const gguf::GgufFile>(
        gguf::GgufFile::open(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf"));
    return std::shared_ptr<const Transformer>(Transformer::load(file));
  }();
  return m;
}

}  // namespace loom::testing_support
