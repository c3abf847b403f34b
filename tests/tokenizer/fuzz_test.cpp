// Random input never crashes any tokenizer, and text comes back unchanged from every
// tokenizer that does not normalise (all but WordPiece), for random bytes as well as
// random Unicode. Fixed seeds keep failures reproducible.
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/utf8.h"

namespace loom {
namespace {

std::string random_bytes(std::mt19937& rng, size_t max_length) {
  std::uniform_int_distribution<size_t> length(0, max_length);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(length(rng), '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// Valid UTF-8 drawn from the ranges tokenizers treat differently: ASCII words and
// punctuation, whitespace of all kinds, accented Latin, Cyrillic, CJK, Hangul, combining
// marks, emoji with joiners, and the rest of the code space.
std::string random_unicode(std::mt19937& rng, size_t max_chars) {
  static const std::vector<std::pair<uint32_t, uint32_t>> kRanges = {
      {'a', 'z'},         {'A', 'Z'},       {'0', '9'},         {' ', '/'},       {'\t', '\r'},
      {0xA0, 0xFF},       {0x0300, 0x036F}, {0x0400, 0x04FF},   {0x0E00, 0x0E7F}, {0x1780, 0x17FF},
      {0x2000, 0x206F},   {0x3000, 0x303F}, {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3}, {0xFE00, 0xFE0F},
      {0x1F300, 0x1F6FF}, {0x200D, 0x200D}, {0x10000, 0x10FFFF}};
  std::uniform_int_distribution<size_t> length(0, max_chars);
  std::uniform_int_distribution<size_t> pick(0, kRanges.size() - 1);
  std::string s;
  for (size_t n = length(rng); n > 0; --n) {
    const auto [lo, hi] = kRanges[pick(rng)];
    uint32_t cp = std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';  // surrogates are not characters
    utf8::append(s, cp);
  }
  return s;
}

bool normalises(const std::string& name) {
  return name == "bert-bge";
}

// Whether every byte of `text` has a plain token of its own in a byte-level BPE
// vocabulary. Bytes without one (Falcon lacks some control characters, StarCoder 0xF1,
// GPT-NeoX the bytes never valid in UTF-8; DeepSeek has those as user-defined tokens)
// are dropped or changed by design, so only other texts can round-trip.
bool bpe_can_express(const Tokenizer& tokenizer, const std::string& text) {
  if (tokenizer.model_name() != "gpt2") return true;
  for (unsigned char b : text) {
    const int32_t id = tokenizer.find_token(byte_level::encode_byte(b));
    if (id < 0 || tokenizer.token_type(id) != TokenType::kNormal) return false;
  }
  return true;
}

class FuzzTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzTest, RandomInputNeverBreaks) {
  const std::string name = GetParam();
  if (!std::filesystem::exists(test::vocab_path(name))) GTEST_SKIP() << "no " << name;
  const auto tokenizer = test::load_vocab(name);
  std::mt19937 rng(20240611);
  for (int i = 0; i < 300; ++i) {
    const std::string text = i % 2 == 0 ? random_bytes(rng, 64) : random_unicode(rng, 48);
    const std::vector<int32_t> ids = tokenizer->encode(text, true, i % 3 == 0);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tokenizer->n_vocab());
    if (!normalises(name) && bpe_can_express(*tokenizer, text)) {
      const std::vector<int32_t> plain = tokenizer->encode(text, false, false);
      ASSERT_EQ(tokenizer->decode(plain), text) << name << " input #" << i;
    }
    // Streaming gives valid UTF-8 whatever the ids are.
    IncrementalDetokenizer detok(*tokenizer, true);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string piece = detok.push(id);
      ASSERT_TRUE(utf8::is_valid(piece));
      streamed += piece;
    }
    streamed += detok.flush();
    ASSERT_TRUE(utf8::is_valid(streamed));
    // The stream is exactly the whole decode with ill-formed parts replaced.
    ASSERT_EQ(streamed, utf8::sanitize(tokenizer->decode(ids))) << name << " input #" << i;
  }
}

TEST_P(FuzzTest, RandomIdsDecode) {
  const std::string name = GetParam();
  if (!std::filesystem::exists(test::vocab_path(name))) GTEST_SKIP() << "no " << name;
  const auto tokenizer = test::load_vocab(name);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> id(0, tokenizer->n_vocab() - 1);
  for (int i = 0; i < 50; ++i) {
    std::vector<int32_t> ids(32);
    for (int32_t& x : ids) x = id(rng);
    IncrementalDetokenizer detok(*tokenizer, true);
    std::string streamed;
    for (int32_t x : ids) streamed += detok.push(x);
    streamed += detok.flush();
    EXPECT_TRUE(utf8::is_valid(streamed));
    EXPECT_EQ(streamed, utf8::sanitize(tokenizer->decode(ids)))
        << "streamed text must equal the sanitised whole decode";
  }
}

// Long runs stress the regex engine's backtracking and the merge queues.
TEST_P(FuzzTest, LongRuns) {
  const std::string name = GetParam();
  if (!std::filesystem::exists(test::vocab_path(name))) GTEST_SKIP() << "no " << name;
  const auto tokenizer = test::load_vocab(name);
  for (const std::string& text :
       {std::string(100000, ' '), std::string(50000, '\n'), std::string(30000, 'a'),
        std::string(20000, '3'),
        std::string(10000, '!') + "\xE4\xB8\x80" + std::string(10000, ' ')}) {
    const std::vector<int32_t> ids = tokenizer->encode(text, false);
    if (!normalises(name)) {
      EXPECT_EQ(tokenizer->decode(ids), text);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, FuzzTest,
                         ::testing::Values("llama-spm", "phi-3", "baichuan", "gpt-2", "gpt-neox",
                                           "deepseek-coder", "deepseek-llm", "falcon", "mpt",
                                           "starcoder", "refact", "bert-bge"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace loom
