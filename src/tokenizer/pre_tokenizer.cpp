#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/pcre_regex.h"
#include "tokenizer/utf8.h"

namespace loom {
namespace {

// The expressions, as the models' tokenizer.json files (and llama.cpp) give them.
constexpr std::string_view kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
// Llama 3 writes the contractions as (?i:...); spelled out so that case folding of
// characters such as U+017F cannot change them.
constexpr std::string_view kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kTekken =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kGpt4o =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kBloom = R"re( ?[^(\s|.,!?…。，、।۔،)]+)re";
constexpr std::string_view kCjk = R"re([一-龥ࠀ-一가-퟿]+)re";
// DeepSeek LLM's letters: Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee ... as
// listed in its tokenizer.json. Characters that Unicode normalisation would replace
// (U+1F7D, U+1FD3, U+1FDB, U+1FBE, U+2126, U+212A) are escaped so no editor changes them.
constexpr std::string_view kDeepseekLetters =
    R"re(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌῐ-\x{1FD3}ῖ-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)re";

struct Pipeline {
  std::vector<std::string_view> names;  // tokenizer.ggml.pre values
  std::vector<std::string_view> patterns;
  bool ignore_merges = false;
};

const std::vector<Pipeline>& pipelines() {
  static const std::vector<Pipeline> kPipelines = {
      // llama.cpp's default, also used when tokenizer.ggml.pre is absent (GPT-NeoX).
      {{"", "default"},
       {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", R"re([0-9][0-9][0-9])re"}},
      {{"gpt-2", "mpt", "olmo", "jais", "trillion", "phi-2", "jina-es", "jina-de", "gigachat",
        "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe"},
       {kGpt2}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral"}, {kLlama3}, true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}},
      {{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan"}, {kQwen2}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
       {R"re(\p{N})re", kGpt2}},
      {{"falcon"}, {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, R"re([0-9][0-9][0-9])re"}},
      {{"deepseek-llm"},
       {R"re([\r\n])re", kDeepseekLetters, R"re(\s?[!-/:-~！-／：-～‘-‟　-。]+)re", R"re(\s+$)re",
        kCjk, R"re(\p{N}+)re"}},
      {{"deepseek-coder"},
       {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kCjk, R"re(\p{N})re"}},
      {{"deepseek-v3"},
       {R"re(\p{N}{1,3})re", R"re([一-龥぀-ゟ゠-ヿ]+)re",
        R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"}},
      {{"poro-chat", "bloom", "gpt3-finnish"}, {kBloom}},
      {{"viking"}, {kBloom, R"re(\p{N})re"}},
      {{"tekken"}, {kTekken}, true},
      {{"gpt-4o", "llama4"}, {kGpt4o}},
  };
  return kPipelines;
}

}  // namespace

PreTokenizer::PreTokenizer(std::string_view name) {
  for (const Pipeline& pipeline : pipelines()) {
    if (std::find(pipeline.names.begin(), pipeline.names.end(), name) == pipeline.names.end()) {
      continue;
    }
    for (std::string_view pattern : pipeline.patterns) {
      regexes_.push_back(std::make_unique<Regex>(pattern));
      behaviors_.push_back(Behavior::kIsolated);
    }
    ignore_merges_ = pipeline.ignore_merges;
    return;
  }
  std::string known;
  for (const std::string& n : known_names()) known += (known.empty() ? "" : ", ") + n;
  fail("tokenizer: tokenizer.ggml.pre = \"{}\" is not a known pre-tokenizer (known: {})", name,
       known);
}

PreTokenizer::PreTokenizer(const std::vector<Rule>& rules, bool ignore_merges)
    : ignore_merges_(ignore_merges) {
  for (const Rule& rule : rules) {
    regexes_.push_back(std::make_unique<Regex>(rule.pattern));
    behaviors_.push_back(rule.behavior);
  }
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string> PreTokenizer::known_names() {
  std::vector<std::string> names;
  for (const Pipeline& pipeline : pipelines()) {
    for (std::string_view n : pipeline.names) {
      if (!n.empty()) names.emplace_back(n);
    }
  }
  return names;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
  if (text.empty()) return;
  std::vector<std::string_view> pieces{text};
  std::vector<std::string_view> next;
  for (size_t stage = 0; stage < regexes_.size(); ++stage) {
    const Regex* regex = regexes_[stage].get();
    const Behavior behavior = behaviors_[stage];
    next.clear();
    for (std::string_view piece : pieces) {
      // Each piece is matched on its own: lookaheads and `$` see only the piece.
      size_t gap_start = 0;
      size_t search = 0;
      size_t begin = 0, end = 0;
      while (search < piece.size() && regex->find(piece, search, begin, end)) {
        if (end == begin) {  // an empty match splits nothing; step over one character
          const utf8::Decoded d = utf8::decode_front(piece.substr(begin));
          search = begin + std::max<size_t>(1, d.status == utf8::Status::kValid ? d.length : 1);
          continue;
        }
        search = end;
        if (behavior == Behavior::kMergedWithPrevious) {
          next.push_back(piece.substr(gap_start, end - gap_start));
          gap_start = end;
          continue;
        }
        if (begin > gap_start) next.push_back(piece.substr(gap_start, begin - gap_start));
        if (behavior == Behavior::kIsolated) next.push_back(piece.substr(begin, end - begin));
        gap_start = behavior == Behavior::kMergedWithNext ? begin : end;
      }
      if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
    }
    pieces.swap(next);
  }
  words.insert(words.end(), pieces.begin(), pieces.end());
}

}  // namespace loom
