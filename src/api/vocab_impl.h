// What a public loom::Vocab holds: the tokenizer alone.
#pragma once

#include <memory>

#include "loom/vocab.h"
#include "tokenizer/tokenizer.h"

namespace loom {

struct Vocab::Impl {
  std::unique_ptr<Tokenizer> tokenizer;
};

}  // namespace loom
