#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer/wordpiece_tokenizer.h"

namespace loom {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  VocabData vocab = load_vocab(file);
  if (vocab.model == "llama") return make_spm_tokenizer(vocab);
  if (vocab.model == "gpt2") return make_bpe_tokenizer(vocab);
  if (vocab.model == "bert") return make_wordpiece_tokenizer(vocab);
  // load_vocab rejects other models; this keeps the two lists from drifting silently.
  fail("tokenizer: tokenizer.ggml.model = \"{}\" has no implementation", vocab.model);
}

Tokenizer::Tokenizer() = default;

void Tokenizer::init_common(VocabData& vocab) {
  tokens_ = std::move(vocab.tokens);
  types_ = vocab.types;
  end_of_generation_ = vocab.end_of_generation;
  bos_id_ = vocab.bos_id;
  eos_id_ = vocab.eos_id;
  unk_id_ = vocab.unk_id;
  sep_id_ = vocab.sep_id;
  add_bos_ = vocab.add_bos;
  add_eos_ = vocab.add_eos;
  add_sep_ = vocab.add_sep;
  add_space_prefix_ = vocab.add_space_prefix;
  model_name_ = vocab.model;
  fim_ = vocab.fim;

  // A text stored twice maps to its last id, as in llama.cpp.
  token_ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    token_ids_.insert_or_assign(std::string_view(tokens_[i]), static_cast<int32_t>(i));
  }
  special_splitter_ =
      std::make_shared<SpecialTokenSplitter>(tokens_, types_, vocab.lstrip, vocab.rstrip);
}

int32_t Tokenizer::find_token(std::string_view text) const {
  const auto it = token_ids_.find(text);
  return it == token_ids_.end() ? -1 : it->second;
}

std::vector<Tokenizer::Fragment> Tokenizer::split_special(std::string_view text,
                                                          bool parse_special) const {
  std::vector<Fragment> fragments;
  for (const SpecialTokenSplitter::Piece& piece : special_splitter_->split(text, parse_special)) {
    fragments.push_back({piece.text, piece.token});
  }
  return fragments;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string text;
  bool strip_space = add_space_prefix_;
  for (const int32_t id : ids) {
    std::string piece = token_to_piece(id, render_special);
    if (strip_space && !piece.empty()) {
      if (piece.front() == ' ') piece.erase(0, 1);
      strip_space = false;
    }
    text += piece;
  }
  return text;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

}  // namespace loom
