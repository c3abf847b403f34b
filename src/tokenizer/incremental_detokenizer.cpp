#include "tokenizer/incremental_detokenizer.h"

#include "tokenizer/utf8.h"

namespace loom {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer,
                                               bool first_token_follows_bos)
    : tokenizer_(tokenizer),
      strip_leading_space_(first_token_follows_bos && tokenizer.add_space_prefix()) {}

std::string IncrementalDetokenizer::push(int32_t id) {
  std::string piece = tokenizer_.token_to_piece(id);
  // The space SentencePiece put before the first word is dropped from the first
  // token that renders anything (BOS itself renders nothing).
  if (strip_leading_space_ && !piece.empty()) {
    if (piece.front() == ' ') piece.erase(0, 1);
    strip_leading_space_ = false;
  }
  pending_ += piece;
  return drain(false);
}

std::string IncrementalDetokenizer::flush() {
  return drain(true);
}

std::string IncrementalDetokenizer::drain(bool at_end) {
  std::string out;
  std::string_view rest = pending_;
  while (!rest.empty()) {
    const utf8::Decoded d = utf8::decode_front(rest);
    if (d.status == utf8::Status::kValid) {
      out.append(rest.substr(0, d.length));
    } else if (d.status == utf8::Status::kIncomplete && !at_end) {
      break;  // a later token may complete it
    } else {
      // Bytes that can never become valid: one U+FFFD per maximal ill-formed subpart.
      out.append(utf8::kReplacement);
    }
    rest.remove_prefix(d.length);
  }
  pending_.assign(rest);
  return out;
}

}  // namespace loom
