// ThinkFilter: reasoning is told from the answer even when a tag is split across tokens.
#include "cli/think_filter.h"

#include <gtest/gtest.h>

namespace loom::cli {
namespace {

struct Split {
  std::string thinking;
  std::string answer;
};

Split run(ThinkFilter& filter, const std::vector<std::string>& chunks) {
  Split out;
  auto take = [&](const std::vector<ThinkFilter::Piece>& pieces) {
    for (const auto& p : pieces) (p.thinking ? out.thinking : out.answer) += p.text;
  };
  for (const std::string& chunk : chunks) take(filter.push(chunk));
  take(filter.flush());
  return out;
}

TEST(ChatThinkFilter, SeparatesReasoningFromTheAnswerAtEverySplit) {
  const std::string reply = "<think>The user greets me.</think>Hello!";
  for (size_t a = 0; a <= reply.size(); ++a) {
    for (size_t b = a; b <= reply.size(); ++b) {
      ThinkFilter filter;
      const Split s = run(filter, {reply.substr(0, a), reply.substr(a, b - a), reply.substr(b)});
      EXPECT_EQ(s.thinking, "The user greets me.") << a << " " << b;
      EXPECT_EQ(s.answer, "Hello!") << a << " " << b;
    }
  }
}

TEST(ChatThinkFilter, OneCharacterAtATime) {
  const std::string reply = "a<think>b<c</think>d</thin";
  std::vector<std::string> chunks;
  for (char c : reply) chunks.emplace_back(1, c);
  ThinkFilter filter;
  const Split s = run(filter, chunks);
  EXPECT_EQ(s.thinking, "b<c");
  EXPECT_EQ(s.answer, "ad</thin");  // not a tag outside reasoning; held back, then flushed
}

TEST(ChatThinkFilter, TextThatOnlyLooksLikeATagStartIsNotHeldForever) {
  ThinkFilter filter;
  std::vector<ThinkFilter::Piece> pieces = filter.push("x <th");
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].text, "x ");  // "<th" may still become <think>
  pieces = filter.push("e end");
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].text, "<the end");
  EXPECT_FALSE(pieces[0].thinking);
}

TEST(ChatThinkFilter, AReplyThatStartsInsideReasoning) {
  ThinkFilter filter(/*starts_thinking=*/true);
  const Split s = run(filter, {"step one\n</thi", "nk>\n\nThe answer"});
  EXPECT_EQ(s.thinking, "step one\n");
  EXPECT_EQ(s.answer, "\n\nThe answer");
  EXPECT_FALSE(filter.thinking());
}

TEST(ChatThinkFilter, UnfinishedReasoningStaysReasoning) {
  ThinkFilter filter;
  const Split s = run(filter, {"<think>still thinking </"});
  EXPECT_EQ(s.thinking, "still thinking </");
  EXPECT_EQ(s.answer, "");
}

}  // namespace
}  // namespace loom::cli
