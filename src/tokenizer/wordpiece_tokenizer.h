// WordPiece (tokenizer.ggml.model = "bert").
#pragma once

#include <memory>

#include "tokenizer/tokenizer.h"

namespace loom {

std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(Vocab& vocab);

}  // namespace loom
