// Byte-level BPE and WordPiece behaviour beyond the goldens: special tokens, BOS/EOS
// defaults, pieces, pre-tokenizer selection and its errors.
#include <gtest/gtest.h>

#include "gguf/gguf_writer.h"
#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"

namespace loom {
namespace {

using Ids = std::vector<int32_t>;

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  std::vector<std::string_view> words;
  PreTokenizer(pre).split(text, words);
  return {words.begin(), words.end()};
}

TEST(PreTokenizer, Gpt2KeepsSpaceWithTheNextWord) {
  EXPECT_EQ(split("gpt-2", "Hello world  !? it's 2024"),
            (std::vector<std::string>{"Hello", " world", " ", " !?", " it", "'s", " 2024"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(split("llama-bpe", "1234567 ab\n\n"),
            (std::vector<std::string>{"123", "456", "7", " ab", "\n\n"}));
}

TEST(PreTokenizer, DollarMeansEndOfPiece) {
  // deepseek-llm's "\s+$" must not match before a final newline.
  EXPECT_EQ(split("deepseek-llm", "a  \n"), (std::vector<std::string>{"a", "  ", "\n"}));
}

TEST(PreTokenizer, InvalidUtf8StaysInTheOutput) {
  const std::string text = "ab\xFF\xFE cd";
  std::string joined;
  for (const std::string& w : split("gpt-2", text)) joined += w;
  EXPECT_EQ(joined, text);
}

TEST(PreTokenizer, UnknownNameIsAnError) {
  try {
    PreTokenizer pre("no-such-pre");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tokenizer.ggml.pre"), std::string::npos) << message;
    EXPECT_NE(message.find("no-such-pre"), std::string::npos) << message;
  }
}

// A three-letter byte-level vocabulary with no merges: only ignore_merges can produce
// the whole-word token.
std::unique_ptr<Tokenizer> tiny_bpe(const std::string& pre, std::vector<uint8_t>& bytes,
                                    std::unique_ptr<gguf::GgufFile>& file) {
  gguf::GgufWriter writer;
  writer.add_string("tokenizer.ggml.model", "gpt2");
  writer.add_string("tokenizer.ggml.pre", pre);
  writer.add_string_array("tokenizer.ggml.tokens", {"a", "b", "c", "abc", "<|end|>"});
  writer.add_i32_array("tokenizer.ggml.token_type", {1, 1, 1, 1, 3});
  writer.add_string_array("tokenizer.ggml.merges", {});
  writer.add_u32("tokenizer.ggml.bos_token_id", 4);
  writer.add_u32("tokenizer.ggml.eos_token_id", 4);
  bytes = writer.to_bytes();
  file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  return Tokenizer::from_gguf(*file);
}

TEST(BpeTokenizer, IgnoreMergesUsesWholeWordTokens) {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::GgufFile> file;
  EXPECT_EQ(tiny_bpe("llama-bpe", bytes, file)->encode("abc", false), Ids{3});
  EXPECT_EQ(tiny_bpe("gpt-2", bytes, file)->encode("abc", false), (Ids{0, 1, 2}));
}

TEST(BpeTokenizer, MissingMergesIsAnError) {
  gguf::GgufWriter writer;
  writer.add_string("tokenizer.ggml.model", "gpt2");
  writer.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
  const std::vector<uint8_t> bytes = writer.to_bytes();
  const auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  try {
    Tokenizer::from_gguf(*file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.merges"), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, Gpt2SpecialTokensOnlyWhenAsked) {
  const auto t = test::load_vocab("gpt-2");
  EXPECT_EQ(t->model_name(), "gpt2");
  EXPECT_EQ(t->eos_id(), 50256);
  EXPECT_TRUE(t->is_end_of_generation(50256));
  const std::string text = "Hi<|endoftext|>there";
  const Ids parsed = t->encode(text, false, true);
  EXPECT_EQ(std::count(parsed.begin(), parsed.end(), 50256), 1);
  const Ids plain = t->encode(text, false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
  EXPECT_EQ(t->decode(plain), text);
  EXPECT_EQ(t->decode(parsed), "Hithere");
  EXPECT_EQ(t->decode(parsed, true), text);
  // GPT-2 adds no BOS.
  EXPECT_EQ(t->encode("Hi", true), t->encode("Hi", false));
}

TEST(BpeTokenizer, Gpt2Pieces) {
  const auto t = test::load_vocab("gpt-2");
  const int32_t hello = t->find_token("\xC4\xA0hello");  // "Ġhello"
  ASSERT_GE(hello, 0);
  EXPECT_EQ(t->token_to_piece(hello), " hello");
  EXPECT_EQ(t->token_to_piece(t->find_token(byte_level::encode_byte(0xE2))), "\xE2");
  EXPECT_THROW(t->token_to_piece(t->n_vocab()), Error);
}

TEST(BpeTokenizer, DeepseekCoderAddsBos) {
  const auto t = test::load_vocab("deepseek-coder");
  const Ids ids = t->encode("int x;", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 32013);
  EXPECT_EQ(t->decode(ids), "int x;");
}

TEST(BpeTokenizer, UserDefinedTokensAlwaysMatch) {
  // GPT-NeoX/MPT store runs of spaces as user-defined tokens; like Hugging Face, they are
  // matched even without parse_special.
  const auto t = test::load_vocab("mpt");
  const int32_t three_spaces = t->find_token("   ");
  ASSERT_GE(three_spaces, 0);
  EXPECT_EQ(t->token_type(three_spaces), TokenType::kUserDefined);
  const Ids ids = t->encode("a   b", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), three_spaces), 1);
  EXPECT_EQ(t->decode(ids), "a   b");
}

TEST(WordPieceTokenizer, ClsAndSep) {
  const auto t = test::load_vocab("bert-bge");
  EXPECT_EQ(t->model_name(), "bert");
  EXPECT_EQ(t->encode("Hello world", true), (Ids{101, 7592, 2088, 102}));
  EXPECT_EQ(t->decode(Ids{101, 7592, 2088, 102}), "hello world");
  EXPECT_EQ(t->encode("[CLS]", false, true), Ids{101});
  EXPECT_EQ(t->encode("Héllo", false), t->encode("hello", false));
}

}  // namespace
}  // namespace loom
