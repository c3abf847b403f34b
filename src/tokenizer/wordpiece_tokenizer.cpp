#include "tokenizer/wordpiece_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/bert_normalizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace loom {
namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // U+2581
// Hugging Face's max_input_chars_per_word: longer words are unknown outright.
constexpr size_t kMaxWordChars = 100;

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(VocabData& vocab) {
  init_common(vocab);
  if (unk_id_ < 0) fail("tokenizer: WordPiece needs tokenizer.ggml.unknown_token_id");
  // Every word is stored with a leading U+2581 that renders as a space; decode drops the
  // first one as it does for SentencePiece.
  add_space_prefix_ = true;
  for (const std::string& token : tokens_)
    max_token_bytes_ = std::max(max_token_bytes_, token.size());
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, bool add_special,
                                                bool parse_special) const {
  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);  // [CLS]
  for (const Fragment& fragment : split_special(text, parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      continue;
    }
    for (const std::string& word : bert_words(fragment.text)) encode_word(word, out);
  }
  if (add_special && add_sep_ && sep_id_ >= 0) out.push_back(sep_id_);  // [SEP]
  if (add_special && add_eos_ && eos_id_ >= 0) out.push_back(eos_id_);
  return out;
}

void WordPieceTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  if (utf8::to_code_points(word).size() > kMaxWordChars) {
    out.push_back(unk_id_);
    return;
  }
  const std::string marked = std::string(kWordStart) + word;
  const size_t first_output = out.size();
  for (size_t start = 0; start < marked.size();) {
    // Longest piece starting here; ends must fall on character boundaries.
    size_t end = std::min(marked.size(), start + max_token_bytes_);
    int32_t id = -1;
    for (; end > start; --end) {
      if (end < marked.size() && (static_cast<uint8_t>(marked[end]) & 0xC0) == 0x80) continue;
      id = find_token(std::string_view(marked).substr(start, end - start));
      if (id >= 0) break;
    }
    if (id < 0) {  // no split: the whole word is unknown
      out.resize(first_output);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(id);
    start = end;
  }
}

std::string WordPieceTokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) {
    fail("tokenizer: token id {} is outside the vocabulary (0..{})", id, n_vocab() - 1);
  }
  const std::string& text = tokens_[id];
  switch (types_[id]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      return render_special ? text : std::string();
    case TokenType::kUserDefined:
      return text;
    case TokenType::kNormal:
      if (text.compare(0, kWordStart.size(), kWordStart) == 0) {
        std::string piece = " ";
        piece.append(text, kWordStart.size());
        return piece;
      }
      return text;
    case TokenType::kByte:
    case TokenType::kUndefined:
    case TokenType::kUnused:
      break;
  }
  return {};
}

std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(VocabData& vocab) {
  return std::make_unique<WordPieceTokenizer>(vocab);
}

}  // namespace loom
