// The tokenizer a model was trained with, built from its GGUF metadata
// (tokenizer.ggml.*). Text in, token ids out, and back. It never sees logits.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/fim_tokens.h"

namespace loom::gguf {
class GgufFile;
}

namespace loom {

struct VocabData;
class SpecialTokenSplitter;

// Token attributes as GGUF numbers them (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // Builds the tokenizer named by tokenizer.ggml.model; loom::Error for an unknown or
  // inconsistent vocabulary (naming the key).
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GgufFile& file);
  // From the text of a Hugging Face tokenizer.json and, optionally, of its
  // tokenizer_config.json (BOS/EOS); see hf_tokenizer_json.h for what is supported.
  // loom::Error naming `origin` and the field for anything invalid or unsupported.
  static std::unique_ptr<Tokenizer> from_hf_json(std::string_view json,
                                                 std::string_view config_json = {},
                                                 std::string_view origin = "tokenizer.json");
  // Reads a tokenizer.json file, and tokenizer_config.json beside it when there is one.
  static std::unique_ptr<Tokenizer> from_hf_json_file(const std::string& path);
  virtual ~Tokenizer() = default;

  // add_special: add BOS/EOS as the metadata says (tokenizer.ggml.add_bos_token ...).
  // parse_special: recognise control/user-defined token texts such as <|im_start|> in
  // `text`; off by default so user text can never inject them.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special,
                                      bool parse_special = false) const = 0;

  // The bytes token `id` stands for in output text (SentencePiece's U+2581 becomes a
  // space, a byte token <0xNN> becomes that byte; control tokens give "" unless
  // render_special). May be part of a UTF-8 sequence.
  virtual std::string token_to_piece(int32_t id, bool render_special = false) const = 0;

  // Whole-sequence decode: the concatenated pieces, minus the leading space that
  // SentencePiece added to the first word (the ids are taken to start the text, after
  // BOS or without it, so decode(encode(x)) == x). Bytes that are not valid UTF-8 are
  // kept as they are (see IncrementalDetokenizer for text).
  virtual std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t bos_id() const { return bos_id_; }  // -1 when the vocabulary has none
  int32_t eos_id() const { return eos_id_; }
  // True for end-of-generation tokens (EOS, EOT, <|im_end|> ...).
  bool is_end_of_generation(int32_t id) const;
  const std::string& token_text(int32_t id) const { return tokens_.at(id); }
  TokenType token_type(int32_t id) const { return types_.at(id); }
  const std::string& model_name() const { return model_name_; }  // "llama", "gpt2", ...
  // SentencePiece-style models put a space before the first word; decode removes it.
  bool add_space_prefix() const { return add_space_prefix_; }
  // Whether encode(text, add_special=true) starts with BOS (tokenizer.ggml.add_bos_token).
  bool add_bos() const { return add_bos_; }
  const FimTokenIds& fim_tokens() const { return fim_; }
  // Id of the token whose text is exactly `text` (as stored in the GGUF), -1 when none.
  int32_t find_token(std::string_view text) const;

 protected:
  Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  // Takes the parts every model shares (texts, types, special ids, flags) from `vocab`.
  void init_common(VocabData& vocab);

  // A piece of the input: raw text still to tokenize, or one special token.
  struct Fragment {
    std::string_view text;  // raw text (token < 0)
    int32_t token = -1;
  };
  // `text` split around the texts of special tokens (see special_tokens.h).
  std::vector<Fragment> split_special(std::string_view text, bool parse_special) const;

  std::unordered_map<std::string_view, int32_t> token_ids_;  // text -> id; views into tokens_
  std::shared_ptr<const SpecialTokenSplitter> special_splitter_;
  int32_t unk_id_ = -1;
  int32_t sep_id_ = -1;
  bool add_sep_ = false;
  bool add_space_prefix_ = false;
  std::vector<std::string> tokens_;  // (n_vocab) token texts as stored in the GGUF
  std::vector<TokenType> types_;     // (n_vocab)
  std::vector<int32_t> end_of_generation_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  std::string model_name_;
  FimTokenIds fim_;
};

}  // namespace loom
