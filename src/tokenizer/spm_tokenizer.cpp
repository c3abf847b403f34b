#include "tokenizer/spm_tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace loom {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// A run of the input: one character at first, grown by merges. prev/next link the live
// symbols; a merged-away symbol has n == 0.
struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;  // byte offset into the text
  uint32_t n;      // byte length
};

// A candidate merge of symbols[left] with the symbol that followed it when queued.
struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;  // n of both symbols then; a different size now means it is stale
};

// Best score first; on equal scores the leftmost pair, as SentencePiece and llama.cpp.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// The byte a byte token <0xNN> stands for, -1 when the text has another form.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value |= c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      value |= c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

}  // namespace

SpmTokenizer::SpmTokenizer(VocabData& vocab) : scores_(vocab.scores) {
  init_common(vocab);
  for (int b = 0; b < 256; ++b) byte_ids_[b] = find_token(fmt::format("<0x{:02X}>", b));
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool add_special,
                                          bool parse_special) const {
  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);
  // SentencePiece adds a space before the text and before text after a special token.
  bool after_special = true;
  std::string escaped;
  for (const Fragment& fragment : split_special(text, parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    escaped.clear();
    if (add_space_prefix_ && after_special) escaped += kSpaceMark;
    for (char c : fragment.text) {
      if (c == ' ') {
        escaped += kSpaceMark;
      } else {
        escaped += c;
      }
    }
    encode_escaped(escaped, out);
    after_special = false;
  }
  if (add_special && add_eos_ && eos_id_ >= 0) out.push_back(eos_id_);
  return out;
}

void SpmTokenizer::encode_escaped(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (text.size() > UINT32_MAX) fail("tokenizer: input of {} bytes is too long", text.size());

  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    // A valid character is one symbol; each byte of invalid UTF-8 is its own symbol
    // (and so a byte token), which keeps a following U+2581 intact.
    const utf8::Decoded d = utf8::decode_front(text.substr(offset));
    const size_t n = d.status == utf8::Status::kValid ? d.length : 1;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + n == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(offset), static_cast<uint32_t>(n)});
    offset += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].n + symbols[right].n;
    const int32_t id = find_token(text.substr(symbols[left].start, size));
    if (id < 0) return;
    queue.push({scores_[id], left, right, size});
  };
  for (size_t i = 1; i < symbols.size(); ++i) {
    try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    // Merge right into left and unlink it.
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].start, symbols[i].n);
    const int32_t id = find_token(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_bytes(piece, out);
    }
  }
}

void SpmTokenizer::append_bytes(std::string_view symbol, std::vector<int32_t>& out) const {
  for (char c : symbol) {
    int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id < 0) id = find_token(std::string_view(&c, 1));
    if (id < 0) id = unk_id_;
    if (id < 0) {
      fail(
          "tokenizer: byte 0x{:02X} has no token (<0x{:02X}>) and the vocabulary has no "
          "unknown token",
          static_cast<uint8_t>(c), static_cast<uint8_t>(c));
    }
    out.push_back(id);
  }
}

std::string SpmTokenizer::token_to_piece(int32_t id, bool render_special) const {
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
    case TokenType::kNormal: {
      std::string piece;
      piece.reserve(text.size());
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
          piece += ' ';
          i += kSpaceMark.size();
        } else {
          piece += text[i++];
        }
      }
      return piece;
    }
    case TokenType::kByte: {
      const int byte = parse_byte_token(text);
      return byte < 0 ? text : std::string(1, static_cast<char>(byte));
    }
    case TokenType::kUndefined:
    case TokenType::kUnused:
      break;
  }
  return {};
}

std::unique_ptr<Tokenizer> make_spm_tokenizer(VocabData& vocab) {
  return std::make_unique<SpmTokenizer>(vocab);
}

}  // namespace loom
