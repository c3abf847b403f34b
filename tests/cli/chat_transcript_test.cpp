// /save and /load: OpenAI-style messages, checked with errors naming the message at fault.
#include "cli/chat_transcript.h"

#include <gtest/gtest.h>

#include "loom/error.h"

namespace loom::cli {
namespace {

std::string error_of(const std::string& json) {
  try {
    transcript_from_json(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ChatTranscript, RoundTrips) {
  const std::vector<ChatMessage> messages = {{"system", "Be brief."},
                                             {"user", "Hi \"there\"\n"},
                                             {"assistant", "Hello ✓"},
                                             {"user", "Bye"},
                                             {"assistant", ""}};
  const std::vector<ChatMessage> back = transcript_from_json(transcript_to_json(messages));
  ASSERT_EQ(back.size(), messages.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].role, messages[i].role);
    EXPECT_EQ(back[i].content, messages[i].content);
  }
  EXPECT_TRUE(transcript_from_json("[]").empty());
}

TEST(ChatTranscript, BadFilesAreClearErrors) {
  EXPECT_NE(error_of("{oops").find("not JSON"), std::string::npos);
  EXPECT_NE(error_of("{}").find("array"), std::string::npos);
  EXPECT_NE(error_of("[1]").find("message 0 is not an object"), std::string::npos);
  EXPECT_NE(error_of(R"([{"content": "x"}])").find("message 0 has no string \"role\""),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": 3}])").find("\"content\""), std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])")
                .find("message 1 has role \"user\", expected \"assistant\""),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}])")
                .find("only come first"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "assistant", "content": "a"}])").find("expected \"user\""),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": "a"}])").find("without a reply"),
            std::string::npos);
}

}  // namespace
}  // namespace loom::cli
