// Fill-in-the-middle tokens: from the GGUF keys (current and older names), else from the
// token texts, as llama.cpp finds them; the found tokens become CONTROL and pad, repo and
// file separator end a generation.
#include <gtest/gtest.h>

#include <string>

#include "common/edited_gguf.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loom {
namespace {

using testing_support::EditedGguf;

std::string vocab_path(const std::string& name) {
  return std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-" + name + ".gguf";
}

std::unique_ptr<Tokenizer> edited(const std::function<void(gguf::GgufWriter&)>& edit) {
  const EditedGguf file(vocab_path("llama-spm"), edit);
  return Tokenizer::from_gguf(*file.file());
}

TEST(FimTokens, NoneInAPlainVocabulary) {
  const auto tokenizer = edited([](gguf::GgufWriter&) {});
  const FimTokenIds& fim = tokenizer->fim_tokens();
  EXPECT_EQ(fim.prefix, -1);
  EXPECT_EQ(fim.suffix, -1);
  EXPECT_EQ(fim.middle, -1);
}

TEST(FimTokens, FromTheCurrentKeys) {
  const auto tokenizer = edited([](gguf::GgufWriter& w) {
    w.add_u32("tokenizer.ggml.fim_pre_token_id", 10);
    w.add_u32("tokenizer.ggml.fim_suf_token_id", 11);
    w.add_u32("tokenizer.ggml.fim_mid_token_id", 12);
    w.add_u32("tokenizer.ggml.fim_pad_token_id", 13);
    w.add_u32("tokenizer.ggml.fim_rep_token_id", 14);
    w.add_u32("tokenizer.ggml.fim_sep_token_id", 15);
  });
  const FimTokenIds& fim = tokenizer->fim_tokens();
  EXPECT_EQ(fim.prefix, 10);
  EXPECT_EQ(fim.suffix, 11);
  EXPECT_EQ(fim.middle, 12);
  EXPECT_EQ(fim.pad, 13);
  EXPECT_EQ(fim.repo, 14);
  EXPECT_EQ(fim.file_sep, 15);
  EXPECT_TRUE(tokenizer->is_end_of_generation(13));
  EXPECT_TRUE(tokenizer->is_end_of_generation(14));
  EXPECT_TRUE(tokenizer->is_end_of_generation(15));
  EXPECT_FALSE(tokenizer->is_end_of_generation(10));
}

TEST(FimTokens, FromTheOlderKeysAndTheCurrentOnesWin) {
  const auto older = edited([](gguf::GgufWriter& w) {
    w.add_u32("tokenizer.ggml.prefix_token_id", 20);
    w.add_u32("tokenizer.ggml.suffix_token_id", 21);
    w.add_u32("tokenizer.ggml.middle_token_id", 22);
  });
  EXPECT_EQ(older->fim_tokens().prefix, 20);
  EXPECT_EQ(older->fim_tokens().suffix, 21);
  EXPECT_EQ(older->fim_tokens().middle, 22);
  const auto both = edited([](gguf::GgufWriter& w) {
    w.add_u32("tokenizer.ggml.prefix_token_id", 20);
    w.add_u32("tokenizer.ggml.fim_pre_token_id", 30);
    w.add_u32("tokenizer.ggml.fim_suf_token_id", 0xFFFFFFFFu);  // converters' "none"
  });
  EXPECT_EQ(both->fim_tokens().prefix, 30);
  EXPECT_EQ(both->fim_tokens().suffix, -1);
}

TEST(FimTokens, AnIdOutsideTheVocabularyNamesTheKey) {
  try {
    edited([](gguf::GgufWriter& w) { w.add_u32("tokenizer.ggml.fim_mid_token_id", 99999999); });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.fim_mid_token_id"), std::string::npos)
        << e.what();
  }
}

// StarCoder's file names none: the texts decide, and the tokens become CONTROL, so user
// text "<fim_prefix>" is not the token unless special tokens are parsed.
TEST(FimTokens, FromTheTextsOfStarCoder) {
  const auto file = gguf::GgufFile::open(vocab_path("starcoder"));
  const auto tokenizer = Tokenizer::from_gguf(*file);
  const FimTokenIds& fim = tokenizer->fim_tokens();
  EXPECT_EQ(tokenizer->token_text(fim.prefix), "<fim_prefix>");
  EXPECT_EQ(tokenizer->token_text(fim.suffix), "<fim_suffix>");
  EXPECT_EQ(tokenizer->token_text(fim.middle), "<fim_middle>");
  EXPECT_EQ(tokenizer->token_text(fim.pad), "<fim_pad>");
  EXPECT_EQ(tokenizer->token_type(fim.prefix), TokenType::kControl);
  EXPECT_TRUE(tokenizer->is_end_of_generation(fim.pad));
  EXPECT_EQ(tokenizer->encode("<fim_prefix>", false, true), std::vector<int32_t>{fim.prefix});
  EXPECT_NE(tokenizer->encode("<fim_prefix>", false, false), std::vector<int32_t>{fim.prefix});
}

}  // namespace
}  // namespace loom
