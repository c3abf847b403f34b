// What a public loom::Model holds: the mapped file, the transformer and the tokenizer.
#pragma once

#include <memory>

#include "gguf/gguf_file.h"
#include "loom/loom.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace loom {

struct Model::Impl {
  std::shared_ptr<const gguf::GgufFile> file;
  std::shared_ptr<const Transformer> transformer;
  std::unique_ptr<Tokenizer> tokenizer;
  ModelInfo info;
};

}  // namespace loom
