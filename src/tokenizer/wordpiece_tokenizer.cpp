#include "tokenizer/wordpiece_tokenizer.h"

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace loom {

std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(Vocab& vocab) {
  fail("tokenizer: tokenizer.ggml.model = \"{}\" (WordPiece) is not implemented yet", vocab.model);
}

}  // namespace loom
