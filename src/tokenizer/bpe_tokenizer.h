// Byte-level BPE (tokenizer.ggml.model = "gpt2"): text is split by the model's
// pre-tokenizer regexes, each piece's bytes are mapped to GPT-2's printable byte
// alphabet, and adjacent symbols are merged lowest merge rank first (leftmost on ties)
// until no listed merge applies, as llama.cpp and Hugging Face tokenizers do.
// A Hugging Face tokenizer.json may also describe a character-level BPE (symbols start as
// UTF-8 characters, unknown ones fall back to <0xNN> byte tokens) and a normalizer;
// BpeOptions carries those.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace loom {

// What a tokenizer.json can say beyond a GGUF "gpt2" vocabulary. The defaults are GGUF's.
struct BpeOptions {
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // null: the pipeline named by vocab.pre
  std::unique_ptr<Normalizer> normalizer;       // null: text is used as it is
  // Merges as (left, right) pairs, used instead of vocab.merges when not empty (token
  // texts may contain spaces, so "left right" strings can be ambiguous).
  std::vector<std::pair<std::string, std::string>> merge_pairs;
  bool byte_level = true;  // false: symbols start as UTF-8 characters, not bytes
  // Character level: a character that is no token becomes its <0xNN> byte tokens.
  bool byte_fallback = false;
  bool fuse_unknown = false;      // character level: consecutive unknown tokens become one
  bool decode_metaspace = false;  // character level: U+2581 in token texts decodes to ' '
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(VocabData& vocab, BpeOptions options = {});

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
  // The ids a piece starts as, before any merge (-1: no token for that byte/character).
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;
  void add_merge(std::string_view left, std::string_view right, int32_t rank);

  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> merge
  // Byte level: id of each byte's one-character token; character level: of its <0xNN>
  // byte-fallback token. -1 when the vocabulary lacks it.
  std::array<int32_t, 256> byte_ids_{};
  std::vector<std::string> pieces_;  // (n_vocab) bytes of NORMAL, BYTE, USER_DEFINED tokens
  bool byte_level_ = true;
  bool byte_fallback_ = false;
  bool fuse_unknown_ = false;
};

std::unique_ptr<Tokenizer> make_bpe_tokenizer(VocabData& vocab, BpeOptions options = {});

}  // namespace loom
