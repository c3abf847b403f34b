#include "cli/think_filter.h"

#include <algorithm>

namespace loom::cli {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest end of `text` that is a proper beginning of `tag`.
size_t partial_tag_length(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

void append(std::vector<ThinkFilter::Piece>& pieces, std::string_view text, bool thinking) {
  if (text.empty()) return;
  if (!pieces.empty() && pieces.back().thinking == thinking) {
    pieces.back().text += text;
  } else {
    pieces.push_back({std::string(text), thinking});
  }
}

}  // namespace

std::vector<ThinkFilter::Piece> ThinkFilter::push(std::string_view text) {
  pending_ += text;
  std::vector<Piece> pieces;
  std::string_view rest = pending_;
  for (;;) {
    const std::string_view tag = thinking_ ? kClose : kOpen;
    const size_t at = rest.find(tag);
    if (at == std::string_view::npos) break;
    append(pieces, rest.substr(0, at), thinking_);
    rest.remove_prefix(at + tag.size());
    thinking_ = !thinking_;
  }
  const size_t held = partial_tag_length(rest, thinking_ ? kClose : kOpen);
  append(pieces, rest.substr(0, rest.size() - held), thinking_);
  pending_ = std::string(rest.substr(rest.size() - held));
  return pieces;
}

std::vector<ThinkFilter::Piece> ThinkFilter::flush() {
  std::vector<Piece> pieces;
  append(pieces, pending_, thinking_);
  pending_.clear();
  return pieces;
}

}  // namespace loom::cli
