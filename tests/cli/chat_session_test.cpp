// ChatSession: each turn's prompt starts with exactly the tokens the previous turn ran (so
// the prefix cache can reuse them), and falls back to encoding the whole conversation when
// that would not stand for the conversation.
#include "cli/chat_session.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace loom::cli {
namespace {

const std::string kModel = std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf";

bool starts_with(const std::vector<int32_t>& tokens, const std::vector<int32_t>& prefix) {
  return tokens.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), tokens.begin());
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ChatSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(kModel);
    engine_ = std::make_unique<Engine>(model_, EngineOptions{.threads = 2});
  }
  static void TearDownTestSuite() {
    engine_.reset();
    model_.reset();
  }
  // The engine's greedy reply to the prompt.
  static Choice reply_to(const ChatPrompt& prompt) {
    Request request;
    request.prompt_tokens = prompt.tokens;
    request.max_tokens = 24;
    request.sampling.temperature = 0;
    return engine_->generate(request).first();
  }
  static std::shared_ptr<Model> model_;
  static std::unique_ptr<Engine> engine_;
};
std::shared_ptr<Model> ChatSessionTest::model_;
std::unique_ptr<Engine> ChatSessionTest::engine_;

TEST_F(ChatSessionTest, SecondTurnStartsWithTheFirstTurnsPromptAndReplyTokens) {
  ChatSession session(model_, "");  // stories260K has no template: the built-in chatml
  session.set_system("You tell short stories.");
  session.add_user("Once upon a time");
  const ChatPrompt first = session.prompt();
  EXPECT_FALSE(first.continues_previous);
  EXPECT_EQ(first.tokens, model_->tokenize(first.text, true, true));  // with BOS
  EXPECT_EQ(first.tokens.front(), model_->bos_token());
  const Choice reply = reply_to(first);
  ASSERT_FALSE(reply.tokens.empty());
  session.add_reply(first, reply.text, reply.tokens);

  session.add_user("What happened next?");
  const ChatPrompt second = session.prompt();
  EXPECT_TRUE(second.continues_previous) << second.why_not;
  EXPECT_TRUE(starts_with(second.tokens, concat(first.tokens, reply.tokens)));
  EXPECT_GT(second.tokens.size(), first.tokens.size() + reply.tokens.size());
  EXPECT_EQ(second.text, apply_chat_template(*model_, session.messages(), true));
  // The new tokens are the template text after the reply, without a second BOS.
  const std::string after = second.text.substr(first.text.size() + reply.text.size());
  EXPECT_EQ(after.rfind("<|im_end|>", 0), 0u) << after;
  const std::vector<int32_t> added(
      second.tokens.begin() +
          static_cast<std::ptrdiff_t>(first.tokens.size() + reply.tokens.size()),
      second.tokens.end());
  EXPECT_EQ(added, model_->tokenize(after, false, true));

  // And the third turn continues the second.
  const Choice reply2 = reply_to(second);
  session.add_reply(second, reply2.text, reply2.tokens);
  session.add_user("The end.");
  const ChatPrompt third = session.prompt();
  EXPECT_TRUE(third.continues_previous);
  EXPECT_TRUE(starts_with(third.tokens, concat(second.tokens, reply2.tokens)));
}

TEST_F(ChatSessionTest, TemplatesThatRewriteEarlierTurnsAreEncodedInFull) {
  // Puts the number of messages first: every added message changes the beginning.
  const std::string rewriting =
      "{{ messages|length }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}<assistant>{% endif %}";
  ChatSession session(model_, rewriting);
  session.add_user("Hello");
  const ChatPrompt first = session.prompt();
  const Choice reply = reply_to(first);
  session.add_reply(first, reply.text, reply.tokens);
  session.add_user("Again");
  const ChatPrompt second = session.prompt();
  EXPECT_FALSE(second.continues_previous);
  EXPECT_NE(second.why_not.find("template"), std::string::npos) << second.why_not;
  EXPECT_EQ(second.tokens, model_->tokenize(second.text, true, true));
}

TEST_F(ChatSessionTest, ReplyTokensThatDoNotSpellTheTextAreNotReused) {
  ChatSession session(model_, "");
  session.add_user("Hello");
  const ChatPrompt first = session.prompt();
  // As after a stop string: the tokens went further than the text kept.
  session.add_reply(first, "Hi", model_->tokenize("Hi there", false, false));
  session.add_user("Again");
  const ChatPrompt second = session.prompt();
  EXPECT_FALSE(second.continues_previous);
  EXPECT_EQ(second.tokens, model_->tokenize(second.text, true, true));
}

TEST_F(ChatSessionTest, DroppingTurnsKeepsTheSystemMessageAndTheLastUserMessage) {
  ChatSession session(model_, "");
  session.set_system("sys");
  for (const char* text : {"one", "two", "three"}) {
    session.add_user(text);
    const ChatPrompt p = session.prompt();
    session.add_reply(p, std::string("reply to ") + text, {});
  }
  session.add_user("four");
  EXPECT_EQ(session.turns(), 4);
  EXPECT_EQ(session.drop_oldest_turn(), "one");
  EXPECT_EQ(session.drop_oldest_turn(), "two");
  EXPECT_EQ(session.drop_oldest_turn(), "three");
  EXPECT_EQ(session.drop_oldest_turn(), std::nullopt);
  ASSERT_EQ(session.messages().size(), 2u);
  EXPECT_EQ(session.messages()[0].content, "sys");
  EXPECT_EQ(session.messages()[1].content, "four");
  EXPECT_FALSE(session.prompt().continues_previous);
}

TEST_F(ChatSessionTest, ResetKeepsTheSystemMessage) {
  ChatSession session(model_, "");
  session.set_system("sys");
  session.add_user("hi");
  session.add_reply(session.prompt(), "hello", {});
  session.reset();
  ASSERT_EQ(session.messages().size(), 1u);
  EXPECT_EQ(session.messages()[0].role, "system");
  session.set_system("");
  EXPECT_TRUE(session.messages().empty());
}

}  // namespace
}  // namespace loom::cli
