// A model's tokenizer on its own, without its weights: text to token ids and back.
//
//   auto vocab = loom::Vocab::load("model.gguf");   // or a vocab-only GGUF, or tokenizer.json
//   std::vector<int32_t> ids = vocab->encode("Hello world", /*add_special=*/true,
//                                            /*parse_special=*/false);
//   std::string text = vocab->decode(ids);
//
// Errors: loom::Error naming the file, the field or the token id that is wrong.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.h"

namespace loom {

class Vocab {
 public:
  // A GGUF file (a model or a vocab-only file; only the tokenizer.ggml.* metadata is
  // read) or a Hugging Face tokenizer.json (with tokenizer_config.json beside it when
  // there is one), told apart by the file's first bytes.
  static std::shared_ptr<Vocab> load(const std::string& path);
  ~Vocab();
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  // add_special: BOS/EOS as the vocabulary says. parse_special: recognise the text of
  // control tokens such as <|im_start|> (off: user text cannot inject them).
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = false) const;
  // The text of the ids (control tokens such as BOS give nothing). Bytes that are not
  // valid UTF-8 (an id sequence cut inside a character) are kept as they are.
  std::string decode(std::span<const int32_t> tokens) const;

  int32_t n_vocab() const;
  // The token's text as the vocabulary stores it (e.g. "▁the", "Ġthe", "<0x0A>", "<s>").
  std::string token_text(int32_t token) const;
  // The bytes the token stands for in output text, control tokens shown as their text
  // (may be part of a UTF-8 sequence).
  std::string token_piece(int32_t token) const;
  int32_t bos_token() const;  // -1 when the vocabulary has none
  int32_t eos_token() const;  // -1 when the vocabulary has none

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Vocab(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace loom
