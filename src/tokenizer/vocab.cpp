#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace loom {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

// Texts llama.cpp treats as end of turn / end of generation even when the metadata does
// not name them (ref: llama.cpp issue 9606: EOG tokens are found by text).
constexpr std::array<std::string_view, 9> kEndOfTurnTexts = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>",
    "<|endoftext|>",     "<EOT>",      "_<EOT>",  "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::array<std::string_view, 12> kEndOfGenerationTexts = {
    "<|eot_id|>", "<|im_end|>",    "<|end|>",         "<|return|>",
    "<|call|>",   "<end_of_turn>", "<|endoftext|>",   "<|eom_id|>",
    "<EOT>",      "_<EOT>",        "<|end_of_text|>", "<end_of_utterance>"};

std::vector<int64_t> integer_array(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* v = file.get_array(key);
  if (v == nullptr) return {};
  if (!v->array_i.empty() || v->array_size() == 0) return v->array_i;
  if (!v->array_u.empty() && v->array_type != gguf::ValueType::BOOL) {
    return {v->array_u.begin(), v->array_u.end()};
  }
  fail("tokenizer: {} must be an array of integers, found an array of {}", key,
       gguf::value_type_name(v->array_type));
}

// Overrides `id` with the key's value when present; an id outside the vocabulary is an
// error because encode/decode would index out of range with it.
void read_special_id(const gguf::GgufFile& file, std::string_view key, size_t n_vocab,
                     int32_t& id) {
  const std::optional<int64_t> value = file.get_int(key);
  if (!value) return;
  // Converters write -1 (often as uint32 0xFFFFFFFF) for "this model has none".
  if (*value == -1 || *value == 0xFFFFFFFFll) {
    id = -1;
    return;
  }
  if (*value < 0 || static_cast<uint64_t>(*value) >= n_vocab) {
    fail("tokenizer: {} = {} is outside the vocabulary (0..{})", key, *value, n_vocab - 1);
  }
  id = static_cast<int32_t>(*value);
}

void read_flag(const gguf::GgufFile& file, std::string_view key, bool& flag) {
  if (const std::optional<bool> value = file.get_bool(key)) flag = *value;
}

// Defaults llama.cpp uses per tokenizer model when the file does not say.
void apply_model_defaults(VocabData& vocab) {
  const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());
  auto in_vocab = [n_vocab](int32_t id) { return id < n_vocab ? id : -1; };
  if (vocab.model == "llama") {
    vocab.bos_id = in_vocab(1);
    vocab.eos_id = in_vocab(2);
    vocab.unk_id = in_vocab(0);
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  } else if (vocab.model == "bert") {
    vocab.bos_id = in_vocab(101);  // [CLS]
    vocab.unk_id = in_vocab(100);
    vocab.sep_id = in_vocab(102);
    vocab.pad_id = in_vocab(0);
    vocab.add_bos = true;
    vocab.add_sep = true;
  } else if (vocab.model == "gpt2") {
    vocab.bos_id = in_vocab(11);
    vocab.eos_id = in_vocab(11);
    // Pre-tokenizers of models trained with BOS (Llama 3 and relatives).
    static constexpr std::array<std::string_view, 9> kBosByDefault = {
        "llama3",  "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
        "pixtral", "tekken",   "chameleon", "midm-2.0"};
    vocab.add_bos =
        std::find(kBosByDefault.begin(), kBosByDefault.end(), vocab.pre) != kBosByDefault.end();
  } else {
    fail(
        "tokenizer: {} = \"{}\" is not supported (supported: \"llama\" SentencePiece, "
        "\"gpt2\" byte-level BPE, \"bert\" WordPiece)",
        kModelKey, vocab.model);
  }
}

void read_tokens(const gguf::GgufFile& file, VocabData& vocab) {
  const std::vector<std::string>* tokens = file.get_string_array(kTokensKey);
  if (tokens == nullptr) fail("tokenizer: {} is missing", kTokensKey);
  if (tokens->empty()) fail("tokenizer: {} is empty", kTokensKey);
  if (tokens->size() > static_cast<size_t>(INT32_MAX)) {
    fail("tokenizer: {} has {} entries, more than token ids can address", kTokensKey,
         tokens->size());
  }
  const size_t n_vocab = tokens->size();
  vocab.tokens = *tokens;
  for (size_t i = 0; i < n_vocab; ++i) {
    // An empty text could never be produced and would match everywhere when splitting
    // special tokens; llama.cpp renames it the same way.
    if (vocab.tokens[i].empty()) vocab.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
  }

  vocab.scores.assign(n_vocab, 0.0f);
  if (const gguf::Value* scores = file.get_array(kScoresKey)) {
    if (scores->array_size() != n_vocab) {
      fail("tokenizer: {} has {} entries but {} has {}", kScoresKey, scores->array_size(),
           kTokensKey, n_vocab);
    }
    if (scores->array_f.size() != n_vocab) {
      fail("tokenizer: {} must be an array of floats, found an array of {}", kScoresKey,
           gguf::value_type_name(scores->array_type));
    }
    for (size_t i = 0; i < n_vocab; ++i) vocab.scores[i] = static_cast<float>(scores->array_f[i]);
  }

  vocab.types.assign(n_vocab, TokenType::kNormal);
  if (file.find(kTypesKey) != nullptr) {
    const std::vector<int64_t> types = integer_array(file, kTypesKey);
    if (types.size() != n_vocab) {
      fail("tokenizer: {} has {} entries but {} has {}", kTypesKey, types.size(), kTokensKey,
           n_vocab);
    }
    for (size_t i = 0; i < n_vocab; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int64_t>(TokenType::kByte)) {
        fail("tokenizer: {}[{}] = {} is not a token type (0..6)", kTypesKey, i, types[i]);
      }
      vocab.types[i] = static_cast<TokenType>(types[i]);
    }
  }
}

}  // namespace

// End-of-generation ids: EOS/EOT/EOM plus tokens whose text marks an end of turn, as
// llama.cpp does. Such tokens are made CONTROL so they never render or get matched in
// user text.
void find_end_of_generation(VocabData& vocab) {
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t i = 0; i < vocab.tokens.size(); ++i) ids[vocab.tokens[i]] = static_cast<int32_t>(i);
  find_fim_tokens_by_text(vocab);

  if (vocab.eot_id < 0) {
    for (std::string_view text : kEndOfTurnTexts) {
      if (auto it = ids.find(text); it != ids.end()) {
        vocab.eot_id = it->second;
        vocab.types[it->second] = TokenType::kControl;
        break;
      }
    }
  }
  if (vocab.eom_id < 0) {
    if (auto it = ids.find("<|eom_id|>"); it != ids.end()) vocab.eom_id = it->second;
  }

  auto add = [&vocab](int32_t id) {
    if (id < 0) return;
    if (std::find(vocab.end_of_generation.begin(), vocab.end_of_generation.end(), id) ==
        vocab.end_of_generation.end()) {
      vocab.end_of_generation.push_back(id);
    }
  };
  for (std::string_view text : kEndOfGenerationTexts) {
    if (auto it = ids.find(text); it != ids.end()) add(it->second);
  }
  add(vocab.eos_id);
  add(vocab.eot_id);
  add(vocab.eom_id);
  // A code model ends a fill-in-the-middle answer with these (llama.cpp does the same).
  add(vocab.fim.pad);
  add(vocab.fim.repo);
  add(vocab.fim.file_sep);
  for (std::string_view text : kEndOfGenerationTexts) {
    if (auto it = ids.find(text); it != ids.end()) vocab.types[it->second] = TokenType::kControl;
  }
  std::sort(vocab.end_of_generation.begin(), vocab.end_of_generation.end());
}

namespace {

// Whitespace-swallowing special tokens, as llama.cpp sets them by model name.
void set_strip_attributes(VocabData& vocab) {
  const size_t n_vocab = vocab.tokens.size();
  vocab.lstrip.assign(n_vocab, false);
  vocab.rstrip.assign(n_vocab, false);
  const bool is_phi3 = vocab.general_name.find("phi-3") != std::string::npos ||
                       vocab.general_name.find("phi3") != std::string::npos;
  if (!is_phi3) return;
  for (size_t i = 0; i < n_vocab; ++i) {
    const TokenType t = vocab.types[i];
    const std::string& text = vocab.tokens[i];
    const bool special =
        t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
    if (special || text == "</s>") vocab.rstrip[i] = true;
    if (text == "<unk>" || text == "<s>" || text == "<|endoftext|>") vocab.rstrip[i] = false;
  }
}

}  // namespace

VocabData load_vocab(const gguf::GgufFile& file) {
  VocabData vocab;
  const std::optional<std::string> model = file.get_string(kModelKey);
  if (!model) fail("tokenizer: {} is missing; the file has no tokenizer", kModelKey);
  vocab.model = *model;
  vocab.pre = file.get_string("tokenizer.ggml.pre").value_or("");
  vocab.general_name = file.get_string("general.name").value_or("");
  std::transform(vocab.general_name.begin(), vocab.general_name.end(), vocab.general_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });

  read_tokens(file, vocab);
  apply_model_defaults(vocab);

  if (vocab.model == "gpt2") {
    const std::vector<std::string>* merges = file.get_string_array(kMergesKey);
    if (merges == nullptr) fail("tokenizer: {} is missing (required for \"gpt2\")", kMergesKey);
    vocab.merges = *merges;
  }

  const size_t n_vocab = vocab.tokens.size();
  read_special_id(file, "tokenizer.ggml.bos_token_id", n_vocab, vocab.bos_id);
  read_special_id(file, "tokenizer.ggml.eos_token_id", n_vocab, vocab.eos_id);
  read_special_id(file, "tokenizer.ggml.eot_token_id", n_vocab, vocab.eot_id);
  read_special_id(file, "tokenizer.ggml.eom_token_id", n_vocab, vocab.eom_id);
  read_special_id(file, "tokenizer.ggml.unknown_token_id", n_vocab, vocab.unk_id);
  read_special_id(file, "tokenizer.ggml.seperator_token_id", n_vocab, vocab.sep_id);
  if (!file.find("tokenizer.ggml.bos_token_id")) {
    read_special_id(file, "tokenizer.ggml.cls_token_id", n_vocab, vocab.bos_id);
  }
  // Padding is not used for encoding; models in the wild sometimes store n_vocab here.
  if (const std::optional<int64_t> pad = file.get_int("tokenizer.ggml.padding_token_id")) {
    vocab.pad_id =
        (*pad >= 0 && static_cast<uint64_t>(*pad) < n_vocab) ? static_cast<int32_t>(*pad) : -1;
  }

  read_flag(file, "tokenizer.ggml.add_bos_token", vocab.add_bos);
  read_flag(file, "tokenizer.ggml.add_eos_token", vocab.add_eos);
  read_flag(file, "tokenizer.ggml.add_sep_token", vocab.add_sep);
  read_flag(file, "tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);

  read_fim_token_ids(file, vocab);
  find_end_of_generation(vocab);
  set_strip_attributes(vocab);
  return vocab;
}

}  // namespace loom
