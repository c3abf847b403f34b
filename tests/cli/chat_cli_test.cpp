// `loom chat` with stdin not a terminal, as a script drives it: one message per line, each
// reply followed by an empty line, no prompts or colours; errors end it with status 1.
// (tests/cli/chat_terminal_test.py drives it through a real terminal.)
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "common/run_command.h"

namespace {

const std::string kLoom = LOOM_BINARY;
const std::string kModel = std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf";

using Output = loom::testing_support::CommandOutput;

// Runs `loom chat ARGS` with `input` on its stdin.
Output chat(const std::string& input, const std::string& args) {
  const std::string path = ::testing::TempDir() + "/loom_chat_input_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(input.data(), 1, input.size(), f);
  std::fclose(f);
  // The group's stdin is /dev/null (run_command); loom's is the file.
  Output output = loom::testing_support::run_command("(" + kLoom + " chat -m " + kModel + " -t 2 " +
                                                     args + " < " + path + ")");
  std::remove(path.c_str());
  return output;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(CliChat, ScriptedModeWritesEachReplyFollowedByAnEmptyLine) {
  const Output o = chat("Hello\n\nOnce upon a time\n", "-n 12 --temp 0 -v");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(count(o.out, "\n\n"), 2u) << o.out;
  EXPECT_EQ(o.out.substr(o.out.size() - 2), "\n\n");
  EXPECT_EQ(o.out.find('\x1b'), std::string::npos) << "no colours";
  EXPECT_EQ(o.out.find("> "), std::string::npos) << "no prompt";
  // The second turn's prompt continued the first turn's tokens.
  EXPECT_NE(o.err.find("continuing the previous turn"), std::string::npos) << o.err;
  // Greedy: the same conversation gives the same replies.
  EXPECT_EQ(chat("Hello\n\nOnce upon a time\n", "-n 12 --temp 0").out, o.out);
}

// Each turn submits the previous turn's tokens and then its own, so the engine's prefix
// cache finds the conversation so far (whole 16-token blocks of it).
TEST(CliChat, LaterTurnsReuseTheConversationsKvCache) {
  const Output o = chat("Hello\nAgain\nMore\n/stats\n", "-n 40 --temp 0 --ignore-eos -v");
  ASSERT_EQ(o.status, 0) << o.err;
  // -v: "continuing the previous turn's N" tokens; /stats: "prompt P tokens (R reused".
  const size_t continued_at = o.err.rfind("continuing the previous turn's ");
  const size_t prompt_at = o.err.find("prompt ", o.err.find("last reply"));
  ASSERT_NE(continued_at, std::string::npos) << o.err;
  ASSERT_NE(prompt_at, std::string::npos) << o.err;
  long continued = 0;
  long prompt = 0;
  long reused = 0;
  ASSERT_EQ(
      std::sscanf(o.err.c_str() + continued_at, "continuing the previous turn's %ld", &continued),
      1);
  ASSERT_EQ(
      std::sscanf(o.err.c_str() + prompt_at, "prompt %ld tokens (%ld reused", &prompt, &reused), 2)
      << o.err;
  EXPECT_EQ(reused, continued / 16 * 16) << o.err;  // every whole block of the last turn
  EXPECT_GT(prompt, continued);
}

TEST(CliChat, SaveAndLoadRoundTrip) {
  const std::string saved = ::testing::TempDir() + "/loom_chat_saved.json";
  const std::string again = ::testing::TempDir() + "/loom_chat_again.json";
  const Output o = chat(
      "Hello\n/save " + saved + "\n/reset\n/load " + saved + "\n/save " + again + "\nAnd then?\n",
      "-n 8 --temp 0 --system 'Tell stories.'");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.err.find("loaded 3 messages (1 turns)"), std::string::npos) << o.err;
  const std::string text = loom::testing_support::read_whole_file(saved);
  EXPECT_EQ(text, loom::testing_support::read_whole_file(again));
  const nlohmann::json messages = nlohmann::json::parse(text);
  ASSERT_EQ(messages.size(), 3u) << text;
  EXPECT_EQ(messages[0], (nlohmann::json{{"role", "system"}, {"content", "Tell stories."}}));
  EXPECT_EQ(messages[1], (nlohmann::json{{"role", "user"}, {"content", "Hello"}}));
  EXPECT_EQ(messages[2]["role"], "assistant");
  EXPECT_EQ(count(o.out, "\n\n"), 2u) << o.out;

  // A bad file is refused with the reason, and a script stops there.
  FILE* f = std::fopen(saved.c_str(), "w");
  std::fputs(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])", f);
  std::fclose(f);
  const Output bad = chat("/load " + saved + "\nHello\n", "-n 8");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("message 1 has role \"user\", expected \"assistant\""), std::string::npos)
      << bad.err;
  EXPECT_TRUE(bad.out.empty()) << bad.out;
  std::remove(saved.c_str());
  std::remove(again.c_str());
}

TEST(CliChat, SetWithABadValueOrNameIsAnError) {
  Output o = chat("/set temp warm\nHello\n", "-n 8");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("temp warm"), std::string::npos) << o.err;
  EXPECT_TRUE(o.out.empty());
  o = chat("/set temperature 1\n", "-n 8");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("unknown setting 'temperature'"), std::string::npos) << o.err;
  // A value out of range is refused by the engine when the reply starts.
  o = chat("/set top-p 2\nHello\n", "-n 8");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("top_p"), std::string::npos) << o.err;
  // A good one applies: greedy replies are the same as with --temp 0.
  o = chat("/set temp 0\nHello\n", "-n 8");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, chat("Hello\n", "-n 8 --temp 0").out);
}

TEST(CliChat, MissingModelIsAClearError) {
  const Output o = loom::testing_support::run_command(kLoom + " chat -m /nonexistent.gguf");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("/nonexistent.gguf"), std::string::npos) << o.err;
  EXPECT_TRUE(o.out.empty());
}

TEST(CliChat, AFullContextDropsTheOldestTurnsAndSaysSo) {
  const std::string input = "Once upon a time\nThere was a cat\nThe cat ran\nThe end\n";
  Output o = chat(input, "-c 96 -n 24 --temp 0 --ignore-eos");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.err.find("context full (96 tokens): dropped the oldest turn"), std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("\"Once upon a time\""), std::string::npos) << o.err;
  EXPECT_EQ(count(o.out, "\n\n"), 4u) << o.out;
  // Without dropping: an error, and the script stops.
  o = chat(input, "-c 96 -n 24 --temp 0 --ignore-eos --no-context-shift");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("context full (96 tokens)"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("--no-context-shift"), std::string::npos) << o.err;
}

TEST(CliChat, ReasoningIsShownBetweenItsTagsOrHidden) {
  // A grammar makes even this model reason.
  const std::string grammar = "--grammar 'root ::= \"<think>Hmm.</think>\" \" Yes.\"'";
  Output o = chat("Hello\n", "-n 32 " + grammar);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "<think>Hmm.</think> Yes.\n\n");
  o = chat("Hello\n", "-n 32 --hide-thinking " + grammar);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Yes.\n\n");
}

}  // namespace
