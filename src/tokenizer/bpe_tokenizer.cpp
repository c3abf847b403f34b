#include "tokenizer/bpe_tokenizer.h"

#include <fmt/core.h>

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace loom {
namespace {

// A run of the piece's bytes; `id` is the token whose text it is (-1: no token, only
// possible for a byte missing from the vocabulary). Merged-away symbols have id -2.
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
};
constexpr int32_t kMergedAway = -2;

// `text` with each U+2581 (SentencePiece's space) turned back into a space.
std::string metaspace_to_space(std::string_view text) {
  static constexpr std::string_view kMetaspace = "\xE2\x96\x81";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kMetaspace.size()) == kMetaspace) {
      out += ' ';
      i += kMetaspace.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

struct Bigram {
  int32_t rank;
  int32_t left;  // symbol index
  int32_t right;
  int32_t left_id;  // ids when queued: if either changed since, the bigram is stale
  int32_t right_id;
  int32_t result;
};

// Lowest rank first; on equal ranks the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

BpeTokenizer::BpeTokenizer(VocabData& vocab, BpeOptions options)
    : pre_tokenizer_(options.pre_tokenizer ? std::move(options.pre_tokenizer)
                                           : std::make_unique<PreTokenizer>(vocab.pre)),
      normalizer_(std::move(options.normalizer)),
      byte_level_(options.byte_level),
      byte_fallback_(options.byte_fallback),
      fuse_unknown_(options.fuse_unknown) {
  init_common(vocab);
  for (int b = 0; b < 256; ++b) {
    byte_ids_[b] = byte_level_ ? find_token(byte_level::encode_byte(static_cast<unsigned char>(b)))
                               : find_token(fmt::format("<0x{:02X}>", b));
  }
  // A merge whose parts or result are not tokens can never fire on token ids; such
  // merges do not occur in real vocabularies (Hugging Face rejects them).
  if (!options.merge_pairs.empty()) {
    merges_.reserve(options.merge_pairs.size());
    for (size_t rank = 0; rank < options.merge_pairs.size(); ++rank) {
      const auto& [left, right] = options.merge_pairs[rank];
      add_merge(left, right, static_cast<int32_t>(rank));
    }
  } else {
    merges_.reserve(vocab.merges.size());
    for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
      const std::string& merge = vocab.merges[rank];
      const size_t space = merge.find(' ', 1);
      if (space == std::string::npos) {
        fail("tokenizer: tokenizer.ggml.merges[{}] = \"{}\" is not \"left right\"", rank, merge);
      }
      add_merge(std::string_view(merge).substr(0, space), std::string_view(merge).substr(space + 1),
                static_cast<int32_t>(rank));
    }
  }
  pieces_.resize(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) {
    const std::string& text = tokens_[id];
    switch (types_[id]) {
      case TokenType::kByte:  // <0xNN>: the byte it names
        if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
          pieces_[id] = static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16));
        }
        break;
      case TokenType::kNormal:
        pieces_[id] = byte_level_ ? byte_level::decode(text) : text;
        break;
      case TokenType::kUserDefined:  // stored as raw text, not in the byte alphabet
        pieces_[id] = text;
        break;
      default:
        break;
    }
    // Character level: the decoder turns U+2581 back into spaces in every piece, added
    // tokens such as Gemma's runs of U+2581 included.
    if (options.decode_metaspace && !byte_level_) pieces_[id] = metaspace_to_space(pieces_[id]);
  }
}

void BpeTokenizer::add_merge(std::string_view left_text, std::string_view right_text,
                             int32_t rank) {
  const int32_t left = find_token(left_text);
  const int32_t right = find_token(right_text);
  const int32_t result = find_token(std::string(left_text) + std::string(right_text));
  if (left < 0 || right < 0 || result < 0) return;
  merges_.try_emplace(pair_key(left, right), Merge{rank, result});
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_special,
                                          bool parse_special) const {
  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);
  std::vector<std::string_view> words;
  for (const Fragment& fragment : split_special(text, parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      continue;
    }
    std::string normalized;
    std::string_view raw = fragment.text;
    if (normalizer_) {
      normalized = normalizer_->normalize(raw);
      raw = normalized;
    }
    words.clear();
    pre_tokenizer_->split(raw, words);
    for (std::string_view word : words) encode_word(word, out);
  }
  if (add_special && add_eos_ && eos_id_ >= 0) out.push_back(eos_id_);
  return out;
}

void BpeTokenizer::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  if (byte_level_) {
    for (const char c : word) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    return;
  }
  // Character level, as Hugging Face's BPE starts a word: each character's token, else
  // (byte_fallback) its byte tokens when all exist, else the unknown token.
  for (size_t i = 0; i < word.size();) {
    const utf8::Decoded d = utf8::decode_front(word.substr(i));
    const size_t length = d.status == utf8::Status::kValid ? d.length : 1;
    const std::string_view character = word.substr(i, length);
    i += length;
    if (const int32_t id = find_token(character); id >= 0) {
      ids.push_back(id);
      continue;
    }
    if (byte_fallback_ && std::all_of(character.begin(), character.end(), [this](char c) {
          return byte_ids_[static_cast<uint8_t>(c)] >= 0;
        })) {
      for (const char c : character) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
      continue;
    }
    if (fuse_unknown_ && unk_id_ >= 0 && !ids.empty() && ids.back() == unk_id_) continue;
    ids.push_back(unk_id_);
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (pre_tokenizer_->ignore_merges()) {
    std::string encoded;
    if (byte_level_) {
      byte_level::encode(word, encoded);
    } else {
      encoded = word;
    }
    if (const int32_t id = find_token(encoded); id >= 0) {
      out.push_back(id);
      return;
    }
  }

  std::vector<int32_t> ids;
  initial_symbols(word, ids);
  std::vector<Symbol> symbols(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    symbols[i] = {ids[i], static_cast<int32_t>(i) - 1,
                  i + 1 < ids.size() ? static_cast<int32_t>(i) + 1 : -1};
  }
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[left].id;
    const int32_t right_id = symbols[right].id;
    if (left_id < 0 || right_id < 0) return;
    const auto it = merges_.find(pair_key(left_id, right_id));
    if (it == merges_.end()) return;
    queue.push({it->second.rank, left, right, left_id, right_id, it->second.result});
  };
  for (size_t i = 1; i < symbols.size(); ++i) {
    try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.id != bigram.left_id || right.id != bigram.right_id) continue;
    left.id = bigram.result;
    right.id = kMergedAway;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    if (symbols[i].id >= 0) {
      out.push_back(symbols[i].id);
    } else if (unk_id_ >= 0 && types_[unk_id_] == TokenType::kUnknown) {
      out.push_back(unk_id_);
    }
    // Otherwise the byte is dropped, as Hugging Face and llama.cpp do: the vocabulary
    // cannot express it (e.g. bytes never valid in UTF-8 in GPT-NeoX, some control
    // characters in Falcon), and its "unknown" id is often EOS, which must not appear
    // inside a prompt.
  }
}

std::string BpeTokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) {
    fail("tokenizer: token id {} is outside the vocabulary (0..{})", id, n_vocab() - 1);
  }
  switch (types_[id]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      return render_special ? tokens_[id] : std::string();
    case TokenType::kUserDefined:
    case TokenType::kNormal:
    case TokenType::kByte:
      return pieces_[id];
    case TokenType::kUndefined:
    case TokenType::kUnused:
      break;
  }
  return {};
}

std::unique_ptr<Tokenizer> make_bpe_tokenizer(VocabData& vocab, BpeOptions options) {
  return std::make_unique<BpeTokenizer>(vocab, std::move(options));
}

}  // namespace loom
