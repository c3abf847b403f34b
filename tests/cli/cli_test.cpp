// The `loom` binary as a user runs it: exit codes, stdout/stderr split, --json, errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "common/run_command.h"

namespace {

const std::string kLoom = LOOM_BINARY;
const std::string kShared = LOOM_SHARED_DIR;
const std::string kModel = kShared + "/models/stories260K.gguf";

using Output = loom::testing_support::CommandOutput;

Output run(const std::string& args) {
  return loom::testing_support::run_command(kLoom + " " + args);
}

TEST(Cli, RunStreamsOnlyTheGeneratedTextToStdout) {
  const Output o = run("run -m " + kModel + " -p 'Once upon a time' -n 16 --temp 0 -t 2");
  ASSERT_EQ(o.status, 0) << o.err;
  // The reference's greedy continuation of this prompt.
  // The reference's greedy continuation of this prompt (its first 16 tokens).
  EXPECT_EQ(o.out, ", there was a little girl named Lily. She loved to play\n");
  EXPECT_NE(o.err.find("time to first token"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("decode"), std::string::npos);
  EXPECT_NE(o.err.find("peak memory"), std::string::npos);
}

TEST(Cli, RunJsonReportsTokensFinishReasonAndTimings) {
  const Output o = run("run -m " + kModel + " -p 'Once upon a time' -n 5 --temp 0 --json");
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["tokens"], nlohmann::json::parse("[432, 383, 286, 261, 376]"));
  EXPECT_EQ(j["finish_reason"], "length");
  EXPECT_EQ(j["timings"]["prompt_tokens"], 5);
  EXPECT_EQ(j["timings"]["generated_tokens"], 5);
  EXPECT_GT(j["timings"]["decode_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["timings"]["peak_memory_bytes"].get<int64_t>(), 0);
}

TEST(Cli, SeededSamplingIsReproducible) {
  const std::string args =
      "run -m " + kModel + " -p 'Once upon a time' -n 32 --temp 1 --seed 9 --json";
  const Output a = run(args);
  const Output b = run(args);
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(nlohmann::json::parse(a.out)["tokens"], nlohmann::json::parse(b.out)["tokens"]);
}

TEST(Cli, PromptBeyondTheContextIsAClearError) {
  const Output o = run("run -m " + kModel + " -p 'Once upon a time' -n 100 -c 64");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("context size 64"), std::string::npos) << o.err;
  EXPECT_TRUE(o.out.empty());
}

TEST(Cli, MissingAndCorruptModelFilesAreClearErrors) {
  Output o = run("run -m /nonexistent.gguf -p hi");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("/nonexistent.gguf"), std::string::npos) << o.err;
  // A text file is not a GGUF file.
  o = run("info " + kShared + "/reference/prompts-stories.txt");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("magic"), std::string::npos) << o.err;
}

TEST(Cli, InfoDescribesTheModel) {
  const Output o = run("info " + kModel);
  ASSERT_EQ(o.status, 0) << o.err;
  for (const char* needle : {"architecture: llama", "embedding_length", "64", "block_count",
                             "tokenizer:    llama (512 tokens", "token_embd.weight", "F32",
                             "tokenizer.ggml.tokens", "(512 x string)"}) {
    EXPECT_NE(o.out.find(needle), std::string::npos) << needle;
  }
}

TEST(Cli, PerplexityMatchesTheReference) {
  const Output o =
      run("perplexity -m " + kModel + " -f " + kShared + "/reference/stories-text.txt -c 128");
  ASSERT_EQ(o.status, 0) << o.err;
  double ppl = 0;
  ASSERT_EQ(std::sscanf(o.out.c_str(), "perplexity: %lf", &ppl), 1) << o.out;
  EXPECT_NEAR(ppl, 3.4257, 3.4257 * 0.005);
}

TEST(Cli, BadArgumentsExplainThemselves) {
  Output o = run("run -p hi");
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.err.find("--model"), std::string::npos) << o.err;
  o = run("run -m " + kModel + " -p hi --top-p 2");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("top_p"), std::string::npos) << o.err;
  o = run("--help");
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("perplexity"), std::string::npos);
}

// One completion prints its text alone, whether streamed or not (beam search, best-of).
TEST(Cli, OneCompletionPrintsTheTextWithoutAHeader) {
  const Output streamed = run("run -m " + kModel + " -p 'Once upon a time' -n 16 --temp 0 -t 2");
  ASSERT_EQ(streamed.status, 0) << streamed.err;
  for (const char* flags : {"--beams 1", "--best-of 2 --seed 3"}) {
    const Output o =
        run("run -m " + kModel + " -p 'Once upon a time' -n 16 --temp 0 -t 2 " + flags);
    ASSERT_EQ(o.status, 0) << flags << ": " << o.err;
    EXPECT_EQ(o.out.find("--- completion"), std::string::npos) << flags << ": " << o.out;
    EXPECT_EQ(o.out, streamed.out) << flags;
  }
  const Output two = run("run -m " + kModel + " -p 'Once upon a time' -n 8 --n 2 --seed 1 -t 2");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_NE(two.out.find("--- completion 1"), std::string::npos) << two.out;
}

TEST(Cli, SynthWritesALoadableModel) {
  const std::string path = ::testing::TempDir() + "/loom_synth_tiny.gguf";
  Output o = run("synth --shape tiny --type q4_0 --tokenizer " + kShared +
                 "/tokenizer-tests/ggml-vocab-llama-spm.gguf -o " + path);
  ASSERT_EQ(o.status, 0) << o.err;
  // stderr is not a terminal: a few progress lines, no redrawn frames.
  EXPECT_EQ(o.err.find('\r'), std::string::npos);
  EXPECT_LE(std::count(o.err.begin(), o.err.end(), '\n'), 6) << o.err;
  EXPECT_LT(o.err.size(), 2048u) << "progress frames in a file";
  // The same with stderr a pipe (the subshell sends it into the pipe popen reads).
  const Output piped = loom::testing_support::run_command(
      "(" + kLoom + " synth --shape tiny --type q4_0 --tokenizer " + kShared +
      "/tokenizer-tests/ggml-vocab-llama-spm.gguf -o " + path + " 2>&1 >/dev/null)");
  ASSERT_EQ(piped.status, 0) << piped.err;
  EXPECT_EQ(piped.out.find('\r'), std::string::npos);
  EXPECT_LT(piped.out.size(), 2048u) << piped.out;
  o = run("run -m " + path + " -p 'Hello world' -n 8 --temp 0 --ignore-eos --json");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(nlohmann::json::parse(o.out)["tokens"].size(), 8u);
  o = run("info " + path);
  EXPECT_NE(o.out.find("Q4_0"), std::string::npos);
  EXPECT_NE(o.out.find("32000 tokens"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace

namespace {

TEST(Cli, GrammarAndSchemaConstrainTheOutput) {
  Output o = run("run -m " + kModel + " -p 'Once upon a time' -n 20 --seed 3 --grammar " +
                 "'root ::= (\"yes\" | \"no\") \".\"'");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(o.out == "yes.\n" || o.out == "no.\n") << o.out;
  const std::string schema_path = ::testing::TempDir() + "/loom_cli_schema.json";
  FILE* f = std::fopen(schema_path.c_str(), "w");
  std::fputs(R"({"type": "object", "properties": {"ok": {"type": "boolean"}},
                 "required": ["ok"], "additionalProperties": false})",
             f);
  std::fclose(f);
  o = run("run -m " + kModel + " -p 'Once upon a time' -n 40 --seed 3 --json --json-schema @" +
          schema_path);
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json result = nlohmann::json::parse(o.out);
  if (result["finish_reason"] == "stop") {
    const nlohmann::json reply = nlohmann::json::parse(result["text"].get<std::string>());
    EXPECT_TRUE(reply["ok"].is_boolean()) << reply;
    EXPECT_EQ(reply.size(), 1u);
  }
  o = run("run -m " + kModel + " -p hi --grammar 'root ::= ('");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("line 1, column"), std::string::npos) << o.err;
  o = run("run -m " + kModel + " -p hi --json-schema '{\"type\": \"string\", \"not\": {}}'");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("not"), std::string::npos) << o.err;
}

}  // namespace

// --model-draft: greedy output is the model's own, the JSON timings count the drafts, and
// a draft model with another vocabulary is refused by name.
TEST(Cli, RunWithADraftModel) {
  const std::string common = "run -m " + kModel + " -p 'Once upon a time' -n 40 --temp 0 --json";
  const Output plain = run(common);
  ASSERT_EQ(plain.status, 0) << plain.err;
  const Output drafted =
      run(common + " --model-draft " + kShared + "/models/stories260K-q8_0.gguf --draft-min 3");
  ASSERT_EQ(drafted.status, 0) << drafted.err;
  const auto a = nlohmann::json::parse(plain.out), b = nlohmann::json::parse(drafted.out);
  EXPECT_EQ(a["tokens"], b["tokens"]);
  EXPECT_GT(b["timings"]["draft_tokens"].get<int64_t>(), 0);
  EXPECT_GT(b["timings"]["draft_accepted"].get<int64_t>(), 0);
  const std::string other_model = ::testing::TempDir() + "/loom_cli_gpt2_draft.gguf";
  ASSERT_EQ(run("synth --shape tiny --type f32 --tokenizer " + kShared +
                "/tokenizer-tests/ggml-vocab-gpt-2.gguf -o " + other_model)
                .status,
            0);
  const Output other = run(common + " --model-draft " + other_model);
  std::remove(other_model.c_str());
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.err.find("vocabulary"), std::string::npos) << other.err;
}
