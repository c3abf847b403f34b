// Real sampling: stories260K (a trained model with a 512-token SentencePiece vocabulary)
// at temperature 1.0 with the grammar as the sampler's constraint. Every reply that ends
// (end-of-generation sampled within the context) must validate with python3-jsonschema;
// replies cut by the context are counted, not validated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "grammar/grammar_processor.h"
#include "grammar/json_schema.h"
#include "grammar_test_util.h"
#include "model/forward_scratch.h"
#include "model/transformer.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar {
namespace {

constexpr int kSeedsPerSchema = 4;
constexpr int kMaxPositions = 512;  // the model's trained context

struct Loaded {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

const Loaded& stories() {
  static const Loaded loaded = [] {
    Loaded l;
    l.file = gguf::GgufFile::open(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf");
    l.model = Transformer::load(l.file);
    l.tokenizer = Tokenizer::from_gguf(*l.file);
    return l;
  }();
  return loaded;
}

// One reply: BOS, then tokens sampled under `grammar` until end-of-generation.
std::pair<std::string, bool> generate(const std::shared_ptr<const CompiledGrammar>& grammar,
                                      uint64_t seed, ThreadPool& pool) {
  const Loaded& l = stories();
  const ModelConfig& config = l.model->config();
  KvCache kv(config.n_layer, 1, kMaxPositions, config.kv_dim(), DType::F32);
  auto scratch = l.model->make_scratch(1);
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = seed;
  Sampler sampler(params);
  sampler.add_constraint(make_grammar_processor(grammar, *l.tokenizer));
  std::vector<float> logits(config.n_vocab);
  std::string text;
  int32_t token = l.tokenizer->bos_id();
  for (int32_t pos = 0; pos < kMaxPositions; ++pos) {
    Batch batch;
    batch.add(token, pos, 0, true);
    l.model->forward(batch, kv, *scratch, pool, logits.data());
    token = sampler.sample(logits.data(), static_cast<int32_t>(config.n_vocab));
    sampler.accept(token);
    if (l.tokenizer->is_end_of_generation(token)) return {text, true};
    text += l.tokenizer->token_to_piece(token);
  }
  return {text, false};
}

TEST(ModelSampling, Stories260kRepliesValidate) {
  if (std::system("/usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3 with python3-jsonschema";
  }
  ThreadPool pool(1);
  const std::string dir = ::testing::TempDir() + "/loom_model_samples_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(test::data_path("schemas"))) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  int complete = 0, cut = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    JsonSchemaOptions options;
    options.strict = file.filename().string().find("strict") != std::string::npos;
    const auto grammar = compile_json_schema(test::read_file(file.string()), options);
    const std::string samples_path = dir + "/" + file.stem().string() + ".samples";
    std::ofstream samples(samples_path);
    int written = 0;
    for (int seed = 0; seed < kSeedsPerSchema; ++seed) {
      const auto [text, ended] = generate(grammar, 100 + seed, pool);
      if (!ended) {
        ++cut;
        continue;
      }
      ++complete;
      ++written;
      EXPECT_TRUE(nlohmann::json::accept(text)) << text;
      samples << nlohmann::json(text).dump() << "\n";
    }
    samples.close();
    if (written == 0) continue;
    const std::string command = "/usr/bin/python3 " + test::data_path("validate.py") + " " +
                                file.string() + " " + samples_path + " > " + samples_path +
                                ".log 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << test::read_file(samples_path + ".log");
  }
  std::printf("stories260K: %d replies ended and validated, %d cut by the %d-position context\n",
              complete, cut, kMaxPositions);
  EXPECT_GT(complete, cut);
}

}  // namespace
}  // namespace loom::grammar

namespace loom::grammar {
namespace {

TEST(ModelSampling, Stories260kGbnfRepliesParse) {
  if (std::system("/usr/bin/python3 -c 'import csv' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3";
  }
  ThreadPool pool(1);
  const std::string dir = ::testing::TempDir() + "/loom_model_samples_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  int total_complete = 0;
  for (const std::string language : {"arithmetic", "minilang", "csv", "chess"}) {
    SCOPED_TRACE(language);
    const auto grammar =
        compile_gbnf(test::read_file(test::data_path("gbnf/" + language + ".gbnf")));
    const std::string samples_path = dir + "/" + language + ".samples";
    std::ofstream samples(samples_path);
    int complete = 0;
    for (int seed = 0; seed < 8; ++seed) {
      const auto [text, ended] = generate(grammar, 200 + seed, pool);
      if (!ended) continue;
      ++complete;
      samples << nlohmann::json(text).dump() << "\n";
    }
    samples.close();
    // Open-ended languages (arithmetic, minilang) end only where the model picks EOS.
    total_complete += complete;
    if (complete == 0) continue;
    const std::string command = "/usr/bin/python3 " + test::data_path("check_gbnf.py") + " " +
                                language + " " + samples_path + " > " + samples_path + ".log 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << test::read_file(samples_path + ".log");
  }
  EXPECT_GT(total_complete, 0);
}

}  // namespace
}  // namespace loom::grammar
