// ReasoningSplitter: <think>…</think> goes to reasoning, the rest to content, the same
// for the whole reply and for the reply cut into pieces at any byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loom/reasoning.h"

namespace loom {
namespace {

ReasoningText run(bool starts_in_reasoning, const std::vector<std::string>& pieces) {
  ReasoningSplitter splitter(starts_in_reasoning);
  ReasoningText out;
  auto take = [&out](const ReasoningText& delta) {
    // Reasoning precedes content: no reasoning may come after content has begun.
    if (!out.content.empty()) EXPECT_EQ(delta.reasoning, "");
    out.reasoning += delta.reasoning;
    out.content += delta.content;
  };
  for (const std::string& piece : pieces) take(splitter.push(piece));
  take(splitter.flush());
  return out;
}

struct Case {
  const char* name;
  std::string reply;
  bool starts_in_reasoning;
  std::string reasoning;
  std::string content;
};

// Replies as DeepSeek-R1 distills and Qwen3 write them (recorded shapes).
const std::vector<Case> kCases = {
    {"qwen3_block",
     "<think>\nThe user says hi. I should greet back.\n</think>\n\nHello! How can I help?", false,
     "The user says hi. I should greet back.", "Hello! How can I help?"},
    {"r1_prompt_opened", "Okay, 2+2 is 4.\n</think>\n\nThe answer is **4**.", true,
     "Okay, 2+2 is 4.", "The answer is **4**."},
    {"no_reasoning", "Just an answer with a < sign and <b>tags</b>.", false, "",
     "Just an answer with a < sign and <b>tags</b>."},
    {"unclosed", "<think>still thinking when max_tokens hit", false,
     "still thinking when max_tokens hit", ""},
    {"unclosed_opened_by_prompt", "thinking </thin", true, "thinking </thin", ""},
    {"later_tags_are_content", "<think>a</think>b <think>c</think>", false, "a",
     "b <think>c</think>"},
    {"qwen3_empty_block", "<think>\n\n</think>\n\nHi.", false, "", "Hi."},
    {"opened_and_repeated", "<think>x</think>y", true, "x", "y"},
    {"tag_not_at_start", "Sure. <think>not reasoning</think>", false, "",
     "Sure. <think>not reasoning</think>"},
    {"spaces_inside_kept", "<think>a  \n b\t</think>  c  ", false, "a  \n b", "c  "},
    {"partial_open_at_end", "<thi", false, "", "<thi"},
    {"utf8", "<think>Ünïcödé 思考</think>答え", false, "Ünïcödé 思考", "答え"},
};

TEST(ReasoningSplitter, SplitsWholeReplies) {
  for (const Case& c : kCases) {
    const ReasoningText out = split_reasoning(c.reply, c.starts_in_reasoning);
    EXPECT_EQ(out.reasoning, c.reasoning) << c.name;
    EXPECT_EQ(out.content, c.content) << c.name;
  }
}

TEST(ReasoningSplitter, SameResultAtEveryByteBoundary) {
  for (const Case& c : kCases) {
    const std::string& r = c.reply;
    for (size_t a = 0; a <= r.size(); ++a) {
      for (size_t b = a; b <= r.size(); ++b) {
        const ReasoningText out =
            run(c.starts_in_reasoning, {r.substr(0, a), r.substr(a, b - a), r.substr(b)});
        ASSERT_EQ(out.reasoning, c.reasoning) << c.name << " cut at " << a << ", " << b;
        ASSERT_EQ(out.content, c.content) << c.name << " cut at " << a << ", " << b;
      }
    }
  }
}

TEST(ReasoningSplitter, ByteByByteNeverLeaksPartialTags) {
  const std::string reply = "<think>plan</think>answer";
  ReasoningSplitter splitter;
  std::string content;
  for (char ch : reply) {
    const ReasoningText delta = splitter.push(std::string(1, ch));
    content += delta.content;
    EXPECT_EQ(content.find('<'), std::string::npos) << content;
  }
  content += splitter.flush().content;
  EXPECT_EQ(content, "answer");
}

TEST(ReasoningSplitter, EmitsReasoningAsItArrives) {
  ReasoningSplitter splitter;
  EXPECT_EQ(splitter.push("<think>Let me").reasoning, "Let me");
  // The space may end the reasoning (it is dropped before "</think>"): held back.
  EXPECT_EQ(splitter.push(" see").reasoning, " see");
  EXPECT_EQ(splitter.push(" </thi").reasoning, "");
  const ReasoningText end = splitter.push("nk>Yes");
  EXPECT_EQ(end.reasoning, "");
  EXPECT_EQ(end.content, "Yes");
}

TEST(ReasoningSplitter, PromptOpensReasoning) {
  EXPECT_TRUE(prompt_opens_reasoning("<｜Assistant｜><think>\n"));
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
}

TEST(ReasoningSplitter, ParsesTheFormatName) {
  EXPECT_EQ(parse_reasoning_format("none"), ReasoningFormat::kNone);
  EXPECT_EQ(parse_reasoning_format("auto"), ReasoningFormat::kDeepSeek);
  EXPECT_EQ(parse_reasoning_format("deepseek"), ReasoningFormat::kDeepSeek);
  try {
    parse_reasoning_format("yes");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reasoning_format"), std::string::npos);
  }
}

}  // namespace
}  // namespace loom
