// Byte-level BPE (tokenizer.ggml.model = "gpt2").
#pragma once

#include <memory>

#include "tokenizer/tokenizer.h"

namespace loom {

std::unique_ptr<Tokenizer> make_bpe_tokenizer(Vocab& vocab);

}  // namespace loom
