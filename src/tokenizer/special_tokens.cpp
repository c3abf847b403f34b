#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace loom {
namespace {

// ASCII whitespace, as llama.cpp's isspace() strips it around lstrip/rstrip tokens.
bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

SpecialTokenSplitter::SpecialTokenSplitter(const std::vector<std::string>& tokens,
                                           const std::vector<TokenType>& types,
                                           const std::vector<bool>& lstrip,
                                           const std::vector<bool>& rstrip) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const TokenType type = types[i];
    if (type != TokenType::kControl && type != TokenType::kUserDefined &&
        type != TokenType::kUnknown) {
      continue;
    }
    entries_.push_back({tokens[i], static_cast<int32_t>(i), type == TokenType::kUserDefined,
                        lstrip[i], rstrip[i]});
  }
  // Longest first so that a token containing another wins; ties by id for determinism.
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.text.size() > b.text.size(); });
}

std::vector<SpecialTokenSplitter::Piece> SpecialTokenSplitter::split(std::string_view text,
                                                                     bool parse_special) const {
  std::vector<Piece> pieces;
  if (!text.empty()) pieces.push_back({text, -1});
  std::vector<Piece> next;
  for (const Entry& entry : entries_) {
    if (!parse_special && !entry.always) continue;
    const bool occurs = std::any_of(pieces.begin(), pieces.end(), [&entry](const Piece& p) {
      return p.token < 0 && p.text.find(entry.text) != std::string_view::npos;
    });
    if (!occurs) continue;

    next.clear();
    for (const Piece& piece : pieces) {
      if (piece.token >= 0) {
        next.push_back(piece);
        continue;
      }
      std::string_view rest = piece.text;
      while (true) {
        const size_t pos = rest.find(entry.text);
        if (pos == std::string_view::npos) {
          if (!rest.empty()) next.push_back({rest, -1});
          break;
        }
        std::string_view left = rest.substr(0, pos);
        if (entry.lstrip) {
          while (!left.empty() && is_ascii_space(left.back())) left.remove_suffix(1);
        }
        if (!left.empty()) next.push_back({left, -1});
        next.push_back({entry.text, entry.id});
        rest.remove_prefix(pos + entry.text.size());
        if (entry.rstrip) {
          while (!rest.empty() && is_ascii_space(rest.front())) rest.remove_prefix(1);
        }
      }
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace loom
