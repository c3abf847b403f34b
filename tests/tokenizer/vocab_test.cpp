// Vocabulary loading: llama.cpp's defaults and clear errors for bad metadata, on small
// GGUF images written in memory.
#include <gtest/gtest.h>

#include "gguf/gguf_writer.h"
#include "test_util.h"

namespace loom {
namespace {

struct VocabImage {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::GgufFile> file;
};

// A tiny SentencePiece vocabulary; `edit` adjusts the metadata before writing.
VocabImage make_vocab(const std::function<void(gguf::GgufWriter&)>& edit,
                      const std::string& model = "llama") {
  gguf::GgufWriter writer;
  writer.add_string("tokenizer.ggml.model", model);
  writer.add_string_array("tokenizer.ggml.tokens",
                          {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab",
                           "\xE2\x96\x81"
                           "ab",
                           "<|im_end|>"});
  writer.add_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3, -0.5f, -0.7f, 0});
  writer.add_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1, 4});
  if (edit) edit(writer);
  VocabImage image;
  image.bytes = writer.to_bytes();
  image.file = gguf::GgufFile::from_memory(image.bytes.data(), image.bytes.size());
  return image;
}

std::string load_error(const VocabImage& image) {
  try {
    Tokenizer::from_gguf(*image.file);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Vocab, LlamaDefaults) {
  const VocabImage image = make_vocab(nullptr);
  const auto tokenizer = Tokenizer::from_gguf(*image.file);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_TRUE(tokenizer->add_space_prefix());
  EXPECT_EQ(tokenizer->encode("ab", true), (std::vector<int32_t>{1, 7}));
  // <|im_end|> ends a turn and becomes a control token, as in llama.cpp.
  EXPECT_TRUE(tokenizer->is_end_of_generation(8));
  EXPECT_EQ(tokenizer->token_type(8), TokenType::kControl);
}

TEST(Vocab, MetadataOverridesDefaults) {
  const VocabImage image = make_vocab([](gguf::GgufWriter& w) {
    w.add_bool("tokenizer.ggml.add_bos_token", false);
    w.add_bool("tokenizer.ggml.add_eos_token", true);
    w.add_bool("tokenizer.ggml.add_space_prefix", false);
    w.add_u32("tokenizer.ggml.eos_token_id", 8);
  });
  const auto tokenizer = Tokenizer::from_gguf(*image.file);
  EXPECT_EQ(tokenizer->eos_id(), 8);
  EXPECT_FALSE(tokenizer->add_space_prefix());
  EXPECT_EQ(tokenizer->encode("ab", true), (std::vector<int32_t>{6, 8}));
}

TEST(Vocab, UnknownModelNamesKeyAndValue) {
  const std::string error = load_error(make_vocab(nullptr, "mystery"));
  EXPECT_NE(error.find("tokenizer.ggml.model"), std::string::npos) << error;
  EXPECT_NE(error.find("mystery"), std::string::npos) << error;
}

TEST(Vocab, MissingModelIsAnError) {
  gguf::GgufWriter writer;
  writer.add_string("general.name", "no tokenizer");
  const std::vector<uint8_t> bytes = writer.to_bytes();
  const auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  try {
    Tokenizer::from_gguf(*file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model"), std::string::npos);
  }
}

TEST(Vocab, ScoresLengthMismatchNamesKey) {
  gguf::GgufWriter writer;
  writer.add_string("tokenizer.ggml.model", "llama");
  writer.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  writer.add_f32_array("tokenizer.ggml.scores", {0, 0});
  const std::vector<uint8_t> bytes = writer.to_bytes();
  const auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  try {
    Tokenizer::from_gguf(*file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.scores"), std::string::npos) << e.what();
  }
}

TEST(Vocab, TokenTypeLengthMismatchNamesKey) {
  gguf::GgufWriter writer;
  writer.add_string("tokenizer.ggml.model", "llama");
  writer.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  writer.add_i32_array("tokenizer.ggml.token_type", {2, 3});
  const std::vector<uint8_t> bytes = writer.to_bytes();
  const auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  try {
    Tokenizer::from_gguf(*file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.token_type"), std::string::npos)
        << e.what();
  }
}

TEST(Vocab, BosOutOfRangeNamesKey) {
  const std::string error = load_error(
      make_vocab([](gguf::GgufWriter& w) { w.add_u32("tokenizer.ggml.bos_token_id", 99); }));
  EXPECT_NE(error.find("tokenizer.ggml.bos_token_id"), std::string::npos) << error;
  EXPECT_NE(error.find("99"), std::string::npos) << error;
}

TEST(Vocab, BadTokenTypeNamesKey) {
  gguf::GgufWriter writer;
  writer.add_string("tokenizer.ggml.model", "llama");
  writer.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  writer.add_i32_array("tokenizer.ggml.token_type", {2, 3, 42});
  const std::vector<uint8_t> bytes = writer.to_bytes();
  const auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  try {
    Tokenizer::from_gguf(*file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.token_type"), std::string::npos);
  }
}

}  // namespace
}  // namespace loom
