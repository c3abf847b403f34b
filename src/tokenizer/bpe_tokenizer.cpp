#include "tokenizer/bpe_tokenizer.h"

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace loom {

std::unique_ptr<Tokenizer> make_bpe_tokenizer(Vocab& vocab) {
  fail("tokenizer: tokenizer.ggml.model = \"{}\" (byte-level BPE) is not implemented yet",
       vocab.model);
}

}  // namespace loom
