// Every schema of the suite in data/schemas: random walks through the token-mask
// processor on a real vocabulary always end in JSON that an independent validator
// (Debian's python3-jsonschema, data/validate.py) accepts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "grammar/json_schema.h"
#include "grammar_test_util.h"
#include "walk_util.h"

namespace loom::grammar {
namespace {

constexpr int kWalksPerSchema = 12;

const Tokenizer& spm_vocab() {
  static const auto tokenizer =
      Tokenizer::from_gguf(*gguf::GgufFile::open(test::vocab_path("llama-spm")));
  return *tokenizer;
}

bool have_validator() {
  return std::system("/usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1") == 0;
}

std::vector<std::filesystem::path> schema_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(test::data_path("schemas"))) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SchemaWalk, SuiteHasAtLeastThirtySchemas) {
  EXPECT_GE(schema_files().size(), 30u);
}

TEST(SchemaWalk, RandomWalksValidate) {
  if (!have_validator()) GTEST_SKIP() << "needs /usr/bin/python3 with python3-jsonschema";
  const Tokenizer& tokenizer = spm_vocab();
  const std::string out_dir =
      ::testing::TempDir() + "/loom_schema_walks_" + std::to_string(getpid());
  std::filesystem::create_directories(out_dir);
  for (const auto& file : schema_files()) {
    SCOPED_TRACE(file.filename().string());
    const std::string schema = test::read_file(file.string());
    JsonSchemaOptions options;
    options.strict = file.filename().string().find("strict") != std::string::npos;
    const auto grammar = compile_json_schema(schema, options);
    const std::string samples_path = out_dir + "/" + file.stem().string() + ".samples";
    std::ofstream samples(samples_path);
    for (int walk = 0; walk < kWalksPerSchema; ++walk) {
      auto processor = make_grammar_processor(grammar, tokenizer);
      const auto result = test::random_walk(*processor, tokenizer, 1000 + walk);
      ASSERT_TRUE(result.ended) << "no end after " << result.n_tokens
                                << " tokens: " << result.text.substr(0, 300);
      EXPECT_TRUE(nlohmann::json::accept(result.text)) << result.text;
      samples << nlohmann::json(result.text).dump() << "\n";
    }
    samples.close();
    const std::string command = "/usr/bin/python3 " + test::data_path("validate.py") + " " +
                                file.string() + " " + samples_path + " > " + samples_path +
                                ".log 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << test::read_file(samples_path + ".log");
  }
}

}  // namespace
}  // namespace loom::grammar
