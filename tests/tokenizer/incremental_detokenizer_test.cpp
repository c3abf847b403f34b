// The streaming detokenizer never emits partial UTF-8: multi-byte characters split over
// byte tokens come out whole, invalid bytes become U+FFFD at once, flush ends a stream.
#include "tokenizer/incremental_detokenizer.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenizer/utf8.h"

namespace loom {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

class IncrementalDetokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tokenizer_ = test::load_vocab("llama-spm").release(); }
  static void TearDownTestSuite() { delete tokenizer_; }
  // llama-spm's byte token for `b` (<0x00> is id 3).
  static int32_t byte(uint8_t b) { return 3 + b; }
  static const Tokenizer& tokenizer() { return *tokenizer_; }

  // Pushes ids one at a time and returns what came out after each push.
  static std::vector<std::string> stream(IncrementalDetokenizer& detok,
                                         const std::vector<int32_t>& ids) {
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(detok.push(id));
    return out;
  }

  static Tokenizer* tokenizer_;
};
Tokenizer* IncrementalDetokenizerTest::tokenizer_ = nullptr;

TEST_F(IncrementalDetokenizerTest, WholeTokensPassThrough) {
  IncrementalDetokenizer detok(tokenizer(), true);
  std::string text;
  for (int32_t id : tokenizer().encode("Hello world", true)) text += detok.push(id);
  text += detok.flush();
  EXPECT_EQ(text, "Hello world");
}

TEST_F(IncrementalDetokenizerTest, LeadingSpaceKeptWhenContinuing) {
  IncrementalDetokenizer detok(tokenizer(), false);
  std::string text;
  for (int32_t id : tokenizer().encode("world", false)) text += detok.push(id);
  EXPECT_EQ(text + detok.flush(), " world");
}

TEST_F(IncrementalDetokenizerTest, ThreeByteCharacterSplitOverByteTokens) {
  IncrementalDetokenizer detok(tokenizer());
  EXPECT_EQ(stream(detok, {byte(0xE2), byte(0x82), byte(0xAC)}),
            (std::vector<std::string>{"", "", "\xE2\x82\xAC"}));  // €
  EXPECT_EQ(detok.flush(), "");
}

TEST_F(IncrementalDetokenizerTest, EmojiSplitOverByteTokens) {
  IncrementalDetokenizer detok(tokenizer());
  EXPECT_EQ(stream(detok, {byte(0xF0), byte(0x9F), byte(0xA6), byte(0x99)}),
            (std::vector<std::string>{"", "", "", "\xF0\x9F\xA6\x99"}));  // 🦙
}

TEST_F(IncrementalDetokenizerTest, EncodedEmojiStreamsWhole) {
  const std::string text = "ok 🦙😶‍🌫️ ✅ 我想 done";
  IncrementalDetokenizer detok(tokenizer(), true);
  std::string out;
  for (int32_t id : tokenizer().encode(text, true)) {
    const std::string piece = detok.push(id);
    EXPECT_TRUE(utf8::is_valid(piece)) << piece;
    out += piece;
  }
  EXPECT_EQ(out + detok.flush(), text);
}

TEST_F(IncrementalDetokenizerTest, ImpossibleBytesAreReplacedAtOnce) {
  IncrementalDetokenizer detok(tokenizer());
  EXPECT_EQ(detok.push(byte(0xFF)), kFffd);  // never valid in UTF-8
  EXPECT_EQ(detok.push(byte(0x80)), kFffd);  // continuation without a lead byte
  EXPECT_EQ(detok.push(byte(0xC0)), kFffd);  // lead of an overlong form
  EXPECT_EQ(detok.push(byte(0xF5)), kFffd);  // beyond U+10FFFF
  EXPECT_EQ(detok.flush(), "");
}

TEST_F(IncrementalDetokenizerTest, BrokenSequenceIsReplacedWhenItBreaks) {
  IncrementalDetokenizer detok(tokenizer());
  EXPECT_EQ(detok.push(byte(0xE2)), "");
  EXPECT_EQ(detok.push(byte(0x82)), "");
  // 'A' cannot continue E2 82: one U+FFFD for the broken prefix, then 'A'.
  EXPECT_EQ(detok.push(byte('A')), kFffd + "A");
  // E0 80 would be overlong: E0 is held, then both bytes are replaced.
  EXPECT_EQ(detok.push(byte(0xE0)), "");
  EXPECT_EQ(detok.push(byte(0x80)), kFffd + kFffd);
  // ED A0 would be a surrogate.
  EXPECT_EQ(detok.push(byte(0xED)), "");
  EXPECT_EQ(detok.push(byte(0xA0)), kFffd + kFffd);
}

TEST_F(IncrementalDetokenizerTest, FlushReplacesAnIncompleteTail) {
  IncrementalDetokenizer detok(tokenizer());
  EXPECT_EQ(detok.push(byte('x')), "x");
  EXPECT_EQ(detok.push(byte(0xF0)), "");
  EXPECT_EQ(detok.push(byte(0x9F)), "");
  EXPECT_EQ(detok.flush(), kFffd);
  EXPECT_EQ(detok.flush(), "");
}

TEST_F(IncrementalDetokenizerTest, ControlTokensRenderNothing) {
  IncrementalDetokenizer detok(tokenizer(), false);
  EXPECT_EQ(detok.push(tokenizer().eos_id()), "");
  EXPECT_EQ(detok.push(tokenizer().bos_id()), "");
}

TEST_F(IncrementalDetokenizerTest, AfterBosTheFirstRenderedTokenLosesItsSpace) {
  IncrementalDetokenizer detok(tokenizer(), true);
  EXPECT_EQ(detok.push(tokenizer().bos_id()), "");
  const std::vector<int32_t> ids = tokenizer().encode("Hi", false);
  std::string out;
  for (int32_t id : ids) out += detok.push(id);
  EXPECT_EQ(out, "Hi");
}

}  // namespace
}  // namespace loom
