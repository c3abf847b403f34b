// Byte-level BPE (tokenizer.ggml.model = "gpt2"): text is split by the model's
// pre-tokenizer regexes, each piece's bytes are mapped to GPT-2's printable byte
// alphabet, and adjacent symbols are merged lowest merge rank first (leftmost on ties)
// until no listed merge applies, as llama.cpp and Hugging Face tokenizers do.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace loom {

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab& vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_special,
                              bool parse_special = false) const override;
  std::string token_to_piece(int32_t id, bool render_special = false) const override;

  const PreTokenizer& pre_tokenizer() const { return *pre_tokenizer_; }

 private:
  struct Merge {
    int32_t rank;    // position in tokenizer.ggml.merges: lower merges first
    int32_t result;  // id of the concatenation
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  // Merges one pre-tokenized piece (raw bytes) and appends its ids.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> merge
  std::array<int32_t, 256> byte_ids_{};         // id of each byte's one-character token
  std::vector<std::string> normal_pieces_;      // (n_vocab) bytes of NORMAL tokens
};

std::unique_ptr<Tokenizer> make_bpe_tokenizer(Vocab& vocab);

}  // namespace loom
