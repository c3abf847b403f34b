// Splits text around the texts of special tokens before the model's own tokenizer sees
// it, as llama.cpp does: longest token text first, each occurrence cut out of the raw
// text pieces. Control and unknown tokens are matched only when the caller asks
// (parse_special), so user text cannot inject <|im_start|>; user-defined tokens (added
// tokens that are not special, e.g. runs of spaces in GPT-NeoX) are always matched, as
// Hugging Face tokenizers and llama.cpp do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace loom {

class SpecialTokenSplitter {
 public:
  struct Piece {
    std::string_view text;  // raw text when token < 0
    int32_t token = -1;
  };

  SpecialTokenSplitter(const std::vector<std::string>& tokens, const std::vector<TokenType>& types,
                       const std::vector<bool>& lstrip, const std::vector<bool>& rstrip);

  // Pieces of `text` in order; raw pieces are never empty. Views point into `text`.
  std::vector<Piece> split(std::string_view text, bool parse_special) const;

 private:
  struct Entry {
    std::string_view text;  // into the tokenizer's token texts
    int32_t id;
    bool always;  // user-defined: matched even without parse_special
    bool lstrip;  // swallow whitespace before the token
    bool rstrip;  // swallow whitespace after the token
  };
  std::vector<Entry> entries_;  // longest text first
};

}  // namespace loom
