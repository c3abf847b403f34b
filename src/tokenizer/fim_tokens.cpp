#include "tokenizer/fim_tokens.h"

#include <array>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/vocab.h"

namespace loom {
namespace {

// Token texts, the union of what llama.cpp versions have recognised (newer ones dropped
// some, e.g. DeepSeek-Coder's and CodeLlama's, which models in use still carry).
constexpr std::array<std::string_view, 8> kPrefixTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",    "<｜fim▁begin｜>",
    "<PRE>",          "▁<PRE>",       "<|code_prefix|>", "<|prefix|>"};
constexpr std::array<std::string_view, 8> kSuffixTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",    "<｜fim▁hole｜>",
    "<SUF>",          "▁<SUF>",       "<|code_suffix|>", "<|suffix|>"};
constexpr std::array<std::string_view, 8> kMiddleTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>",    "<｜fim▁end｜>",
    "<MID>",          "▁<MID>",       "<|code_middle|>", "<|middle|>"};
constexpr std::array<std::string_view, 5> kPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>",
                                                       "<PAD>", "[PAD]"};
constexpr std::array<std::string_view, 5> kRepoTexts = {"<|fim_repo|>", "<|repo_name|>",
                                                        "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::array<std::string_view, 1> kFileSepTexts = {"<|file_sep|>"};

void read_id(const gguf::GgufFile& file, std::string_view key, size_t n_vocab, int32_t& id) {
  const std::optional<int64_t> value = file.get_int(key);
  if (!value) return;
  if (*value == -1 || *value == 0xFFFFFFFFll) return;  // converters' "none"
  if (*value < 0 || static_cast<uint64_t>(*value) >= n_vocab) {
    fail("tokenizer: {} = {} is outside the vocabulary (0..{})", key, *value, n_vocab - 1);
  }
  id = static_cast<int32_t>(*value);
}

template <size_t N>
void find_by_text(VocabData& vocab, const std::unordered_map<std::string_view, int32_t>& ids,
                  const std::array<std::string_view, N>& texts, int32_t& id) {
  if (id >= 0) return;
  for (std::string_view text : texts) {
    if (auto it = ids.find(text); it != ids.end()) {
      id = it->second;
      vocab.types[it->second] = TokenType::kControl;
      return;
    }
  }
}

}  // namespace

void read_fim_token_ids(const gguf::GgufFile& file, VocabData& vocab) {
  const size_t n = vocab.tokens.size();
  FimTokenIds& fim = vocab.fim;
  // The older keys first, so that the current ones win when a file has both.
  read_id(file, "tokenizer.ggml.prefix_token_id", n, fim.prefix);
  read_id(file, "tokenizer.ggml.suffix_token_id", n, fim.suffix);
  read_id(file, "tokenizer.ggml.middle_token_id", n, fim.middle);
  read_id(file, "tokenizer.ggml.fim_pre_token_id", n, fim.prefix);
  read_id(file, "tokenizer.ggml.fim_suf_token_id", n, fim.suffix);
  read_id(file, "tokenizer.ggml.fim_mid_token_id", n, fim.middle);
  read_id(file, "tokenizer.ggml.fim_pad_token_id", n, fim.pad);
  read_id(file, "tokenizer.ggml.fim_rep_token_id", n, fim.repo);
  read_id(file, "tokenizer.ggml.fim_sep_token_id", n, fim.file_sep);
}

void find_fim_tokens_by_text(VocabData& vocab) {
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t i = 0; i < vocab.tokens.size(); ++i) ids[vocab.tokens[i]] = static_cast<int32_t>(i);
  FimTokenIds& fim = vocab.fim;
  find_by_text(vocab, ids, kPrefixTexts, fim.prefix);
  find_by_text(vocab, ids, kSuffixTexts, fim.suffix);
  find_by_text(vocab, ids, kMiddleTexts, fim.middle);
  find_by_text(vocab, ids, kPadTexts, fim.pad);
  find_by_text(vocab, ids, kRepoTexts, fim.repo);
  find_by_text(vocab, ids, kFileSepTexts, fim.file_sep);
}

}  // namespace loom
