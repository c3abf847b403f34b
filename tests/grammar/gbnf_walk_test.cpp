// Random walks through the GBNF grammars in data/gbnf on real vocabularies; every output
// is checked by an independent parser of the same language (data/check_gbnf.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"
#include "grammar_test_util.h"
#include "walk_util.h"

namespace loom::grammar {
namespace {

constexpr int kWalks = 25;

const Tokenizer& vocab(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& slot = loaded[name];
  if (!slot) slot = Tokenizer::from_gguf(*gguf::GgufFile::open(test::vocab_path(name)));
  return *slot;
}

void walk_and_check(const std::string& language, const std::string& vocab_name) {
  if (std::system("/usr/bin/python3 -c 'import csv' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3";
  }
  const Tokenizer& tokenizer = vocab(vocab_name);
  const auto grammar = compile_gbnf(test::read_file(test::data_path("gbnf/" + language + ".gbnf")));
  const std::string dir = ::testing::TempDir() + "/loom_gbnf_walks_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string samples_path = dir + "/" + language + "-" + vocab_name + ".samples";
  std::ofstream samples(samples_path);
  GrammarMatcher matcher(grammar);
  for (int walk = 0; walk < kWalks; ++walk) {
    auto processor = make_grammar_processor(grammar, tokenizer);
    const auto result = test::random_walk(*processor, tokenizer, 77 + walk);
    ASSERT_TRUE(result.ended) << result.text.substr(0, 300);
    EXPECT_TRUE(matcher.matches(result.text)) << result.text;
    samples << nlohmann::json(result.text).dump() << "\n";
  }
  samples.close();
  const std::string command = "/usr/bin/python3 " + test::data_path("check_gbnf.py") + " " +
                              language + " " + samples_path + " > " + samples_path + ".log 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << test::read_file(samples_path + ".log");
}

TEST(GbnfWalk, Arithmetic) {
  walk_and_check("arithmetic", "llama-spm");
}
TEST(GbnfWalk, ArithmeticBpe) {
  walk_and_check("arithmetic", "gpt-2");
}
TEST(GbnfWalk, MiniLanguage) {
  walk_and_check("minilang", "llama-spm");
}
TEST(GbnfWalk, Csv) {
  walk_and_check("csv", "llama-spm");
}
TEST(GbnfWalk, CsvBpe) {
  walk_and_check("csv", "gpt-2");
}
TEST(GbnfWalk, Chess) {
  walk_and_check("chess", "llama-spm");
}

}  // namespace
}  // namespace loom::grammar
