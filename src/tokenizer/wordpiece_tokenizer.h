// WordPiece (tokenizer.ggml.model = "bert"): BERT-normalised words, each split greedily
// into the longest vocabulary pieces from its start; a word with no such split becomes
// the unknown token. GGUF stores word-initial pieces with a U+2581 prefix and
// continuation pieces ("##x" in BERT's vocab.txt) without one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace loom {

class WordPieceTokenizer final : public Tokenizer {
 public:
  explicit WordPieceTokenizer(VocabData& vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_special,
                              bool parse_special = false) const override;
  std::string token_to_piece(int32_t id, bool render_special = false) const override;

 private:
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;

  size_t max_token_bytes_ = 0;
};

std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(VocabData& vocab);

}  // namespace loom
