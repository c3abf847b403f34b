// SentencePiece (tokenizer.ggml.model = "llama") behaviour beyond the goldens: BOS/EOS,
// pieces, decode, special tokens, the stories260K model's own vocabulary.
#include <gtest/gtest.h>

#include "test_util.h"

namespace loom {
namespace {

using Ids = std::vector<int32_t>;

TEST(SpmTokenizer, Stories260KOnceUponATime) {
  const auto tokenizer = test::load_tokenizer_file(test::shared_path("models/stories260K.gguf"));
  EXPECT_EQ(tokenizer->model_name(), "llama");
  EXPECT_EQ(tokenizer->encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(tokenizer->encode("Once upon a time", false), (Ids{403, 407, 261, 378}));
  EXPECT_EQ(tokenizer->decode(Ids{1, 403, 407, 261, 378}), "Once upon a time");
  EXPECT_TRUE(tokenizer->is_end_of_generation(tokenizer->eos_id()));
  EXPECT_FALSE(tokenizer->is_end_of_generation(403));
}

TEST(SpmTokenizer, SpecialIdsAndFlags) {
  const auto tokenizer = test::load_vocab("llama-spm");
  EXPECT_EQ(tokenizer->n_vocab(), 32000);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_TRUE(tokenizer->add_space_prefix());
  EXPECT_EQ(tokenizer->token_type(0), TokenType::kUnknown);
  EXPECT_EQ(tokenizer->token_type(1), TokenType::kControl);
  EXPECT_EQ(tokenizer->token_type(3), TokenType::kByte);
  EXPECT_EQ(tokenizer->token_text(1), "<s>");
  EXPECT_EQ(tokenizer->find_token("<s>"), 1);
  EXPECT_EQ(tokenizer->find_token("no such token"), -1);
  EXPECT_TRUE(tokenizer->is_end_of_generation(2));
  EXPECT_FALSE(tokenizer->is_end_of_generation(1));
}

TEST(SpmTokenizer, BosFirstWhenAskedAndNoEos) {
  const auto tokenizer = test::load_vocab("llama-spm");
  const Ids with = tokenizer->encode("Hello world", true);
  const Ids without = tokenizer->encode("Hello world", false);
  ASSERT_EQ(with.size(), without.size() + 1);
  EXPECT_EQ(with.front(), 1);
  EXPECT_EQ(Ids(with.begin() + 1, with.end()), without);
  EXPECT_EQ(tokenizer->encode("", true), Ids{1});
  EXPECT_TRUE(tokenizer->encode("", false).empty());
}

TEST(SpmTokenizer, Pieces) {
  const auto tokenizer = test::load_vocab("llama-spm");
  const int32_t hello = tokenizer->find_token("\xE2\x96\x81Hello");
  ASSERT_GE(hello, 0);
  EXPECT_EQ(tokenizer->token_to_piece(hello), " Hello");
  EXPECT_EQ(tokenizer->token_to_piece(3 + 0x41), "A");  // <0x41>
  EXPECT_EQ(tokenizer->token_to_piece(3 + 0xE2), "\xE2");
  EXPECT_EQ(tokenizer->token_to_piece(1), "");
  EXPECT_EQ(tokenizer->token_to_piece(1, true), "<s>");
  EXPECT_EQ(tokenizer->token_to_piece(0), "");
  EXPECT_THROW(tokenizer->token_to_piece(32000), Error);
  EXPECT_THROW(tokenizer->token_to_piece(-1), Error);
}

TEST(SpmTokenizer, DecodeDropsOnlyTheAddedSpace) {
  const auto tokenizer = test::load_vocab("llama-spm");
  for (const std::string text : {"Hello", " Hello", "  two spaces", "\n newline first"}) {
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, true)), text);
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false)), text);
  }
  const Ids ids = tokenizer->encode("Hello world", true);
  EXPECT_EQ(tokenizer->decode(ids, true), "<s> Hello world");
}

TEST(SpmTokenizer, UnknownCharactersBecomeBytes) {
  const auto tokenizer = test::load_vocab("llama-spm");
  // U+10FFFF is in no vocabulary: four byte tokens after the space.
  const Ids ids = tokenizer->encode("\xF4\x8F\xBF\xBF", false);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(Ids(ids.begin() + 1, ids.end()), (Ids{3 + 0xF4, 3 + 0x8F, 3 + 0xBF, 3 + 0xBF}));
}

TEST(SpmTokenizer, InvalidUtf8NeverCrashesAndRoundTrips) {
  const auto tokenizer = test::load_vocab("llama-spm");
  const std::string bad = "a\xFF\xC0\x80 b\xE2\x82 \xF0";
  const Ids ids = tokenizer->encode(bad, false);
  EXPECT_EQ(tokenizer->decode(ids), bad);
}

TEST(SpmTokenizer, ParseSpecialOnlyWhenAsked) {
  const auto tokenizer = test::load_vocab("llama-spm");
  const Ids parsed = tokenizer->encode("<s>Hi</s>", false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 1);
  EXPECT_EQ(parsed.back(), 2);
  const Ids plain = tokenizer->encode("<s>Hi</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_EQ(tokenizer->decode(plain), "<s>Hi</s>");
}

TEST(SpmTokenizer, Phi3EndOfTurnTokens) {
  const auto tokenizer = test::load_vocab("phi-3");
  const int32_t end = tokenizer->find_token("<|end|>");
  ASSERT_GE(end, 0);
  EXPECT_TRUE(tokenizer->is_end_of_generation(end));
  EXPECT_TRUE(tokenizer->is_end_of_generation(tokenizer->eos_id()));
  EXPECT_EQ(tokenizer->token_type(end), TokenType::kControl);
  EXPECT_EQ(tokenizer->token_to_piece(end), "");
  // A special token swallows the whitespace after it (phi-3's rstrip), and the text
  // after it gets SentencePiece's space prefix again.
  const Ids ids = tokenizer->encode("<|user|>\nHi<|end|>", false, true);
  const int32_t user = tokenizer->find_token("<|user|>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), user);
  EXPECT_EQ(ids.back(), end);
  EXPECT_EQ(Ids(ids.begin() + 1, ids.end() - 1), tokenizer->encode("Hi", false));
}

}  // namespace
}  // namespace loom
