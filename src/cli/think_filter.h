// Splits a streamed reply into its reasoning (`<think>…</think>`, as reasoning models emit
// it) and its answer, so the chat can dim or hide the reasoning as it arrives. Tags may be
// split across pushes: text that could still become a tag is held back until it cannot.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace loom::cli {

class ThinkFilter {
 public:
  struct Piece {
    std::string text;
    bool thinking = false;
  };

  // starts_thinking: the prompt already opened the reasoning (a template whose generation
  // prompt ends with "<think>"), so the reply begins inside it.
  explicit ThinkFilter(bool starts_thinking = false) : thinking_(starts_thinking) {}

  // The text that is certain now, without the tags, in order.
  std::vector<Piece> push(std::string_view text);
  // Whatever was held back (a partial tag at the end of the reply is text).
  std::vector<Piece> flush();
  bool thinking() const { return thinking_; }

 private:
  bool thinking_;
  std::string pending_;  // text that may be the start of the next tag
};

}  // namespace loom::cli
