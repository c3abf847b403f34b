// loom/reasoning.h: the <think>…</think> split, byte by byte safe for streaming.
#include <fmt/format.h>

#include <algorithm>

#include "loom/reasoning.h"

namespace loom {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t first_non_space(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

std::string_view strip_trailing_spaces(std::string_view text) {
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Length of the longest end of `text` that is a proper beginning of `tag`.
size_t partial_tag_length(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

ReasoningFormat parse_reasoning_format(std::string_view name) {
  if (name == "none") return ReasoningFormat::kNone;
  if (name == "auto" || name == "deepseek") return ReasoningFormat::kDeepSeek;
  throw Error(fmt::format(
      "'reasoning_format' must be \"none\", \"auto\" or \"deepseek\", got \"{}\"", name));
}

bool prompt_opens_reasoning(std::string_view prompt) {
  return strip_trailing_spaces(prompt).ends_with(kOpen);
}

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : starts_in_reasoning_(starts_in_reasoning) {}

ReasoningText ReasoningSplitter::push(std::string_view text) {
  pending_ += text;
  ReasoningText out;
  process(false, out);
  return out;
}

ReasoningText ReasoningSplitter::flush() {
  ReasoningText out;
  process(true, out);
  pending_.clear();
  return out;
}

void ReasoningSplitter::process(bool at_end, ReasoningText& out) {
  for (;;) {
    switch (state_) {
      case State::kStart: {
        // Leading spaces, then either "<think>" (or its beginning: wait) or the answer.
        const size_t start = first_non_space(pending_);
        const std::string_view rest = std::string_view(pending_).substr(start);
        if (rest.starts_with(kOpen)) {
          pending_.erase(0, start + kOpen.size());
          state_ = State::kReasoning;
          continue;
        }
        if (!at_end && kOpen.starts_with(rest)) return;  // all spaces, or a partial "<think>"
        if (starts_in_reasoning_) {
          pending_.erase(0, start);
          state_ = State::kReasoning;
        } else {
          state_ = State::kContent;
        }
        continue;
      }
      case State::kReasoning: {
        if (!reasoning_started_) {
          pending_.erase(0, first_non_space(pending_));
          if (pending_.empty()) return;
          reasoning_started_ = true;
        }
        const size_t close = pending_.find(kClose);
        if (close != std::string::npos) {
          out.reasoning += strip_trailing_spaces(std::string_view(pending_).substr(0, close));
          pending_.erase(0, close + kClose.size());
          state_ = State::kAfterReasoning;
          continue;
        }
        // Hold back a partial "</think>" and the spaces before it: spaces at the end of
        // the reasoning are dropped, which is known only once the tag arrives.
        size_t keep =
            at_end ? pending_.size() : pending_.size() - partial_tag_length(pending_, kClose);
        while (keep > 0 && is_space(pending_[keep - 1])) --keep;
        out.reasoning.append(pending_, 0, keep);
        pending_.erase(0, at_end ? pending_.size() : keep);
        return;
      }
      case State::kAfterReasoning:
        pending_.erase(0, first_non_space(pending_));
        if (pending_.empty()) return;
        state_ = State::kContent;
        continue;
      case State::kContent:
        out.content += pending_;
        pending_.clear();
        return;
    }
  }
}

ReasoningText split_reasoning(std::string_view text, bool starts_in_reasoning) {
  ReasoningSplitter splitter(starts_in_reasoning);
  ReasoningText out = splitter.push(text);
  ReasoningText rest = splitter.flush();
  out.reasoning += rest.reasoning;
  out.content += rest.content;
  return out;
}

}  // namespace loom
