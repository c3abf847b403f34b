// Reasoning output: reasoning models (DeepSeek-R1 distills, Qwen3, ...) think first, inside
// <think>…</think>, then answer. The split puts the thinking in `reasoning` and the answer
// in `content`, as llama.cpp's reasoning_format "deepseek" does: only a leading block is
// reasoning, surrounding whitespace is dropped, and an unclosed block is all reasoning.
//
//   loom::ReasoningSplitter split(loom::prompt_opens_reasoning(prompt));
//   for (const std::string& piece : stream) show(split.push(piece));
//   show(split.flush());
//
// Streaming-safe: text that may still become a tag (a "<thi" at the end of a piece) is
// held back until the next piece decides it, so the concatenated deltas equal
// split_reasoning() of the whole text.
#pragma once

#include <string>
#include <string_view>

#include "loom/error.h"

namespace loom {

// llama.cpp's request option `reasoning_format`.
enum class ReasoningFormat {
  kNone,      // "none": no split, the raw text (tags included) is the content
  kDeepSeek,  // "deepseek" or "auto": <think>…</think> goes to reasoning
};

// "none", "auto" or "deepseek"; loom::Error naming the accepted values otherwise.
ReasoningFormat parse_reasoning_format(std::string_view name);

struct ReasoningText {
  std::string reasoning;
  std::string content;
};

// True when the rendered prompt ends inside a thinking block (the template wrote
// "<think>" itself), so the reply starts in the reasoning and shows only "</think>".
bool prompt_opens_reasoning(std::string_view prompt);

class ReasoningSplitter {
 public:
  // starts_in_reasoning: the prompt opened the block (see prompt_opens_reasoning).
  explicit ReasoningSplitter(bool starts_in_reasoning = false);

  // The part of the text so far that is decided now. Reasoning always precedes content.
  ReasoningText push(std::string_view text);
  // Whatever was held back, at the end of the reply.
  ReasoningText flush();

 private:
  enum class State { kStart, kReasoning, kAfterReasoning, kContent };
  void process(bool at_end, ReasoningText& out);

  bool starts_in_reasoning_;
  State state_ = State::kStart;
  bool reasoning_started_ = false;  // a non-space character of the reasoning was emitted
  std::string pending_;             // undecided text: a partial tag or trailing spaces
};

// The whole reply at once; equal to push(text) followed by flush().
ReasoningText split_reasoning(std::string_view text, bool starts_in_reasoning = false);

}  // namespace loom
