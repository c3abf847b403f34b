// Streaming detokenization: token ids go in one at a time, text comes out only when it
// is complete UTF-8. Bytes that can still become a valid character are held back;
// bytes that never can are replaced by U+FFFD, so a stream never carries broken UTF-8.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace loom {

class IncrementalDetokenizer {
 public:
  // first_token_follows_bos: the first pushed token directly follows BOS, so the
  // SentencePiece leading space is dropped as in Tokenizer::decode. For generated text
  // that continues a prompt this is false.
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool first_token_follows_bos = false);

  // Text that became complete with this token (possibly empty).
  std::string push(int32_t id);
  // End of stream: whatever is held back, invalid bytes as U+FFFD.
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool strip_leading_space_;
  // Emits the complete part of pending_; at_end: nothing more will come.
  std::string drain(bool at_end);

  std::string pending_;  // bytes not yet emitted: an incomplete UTF-8 sequence
};

}  // namespace loom
