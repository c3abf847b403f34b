// loom against the reference engine's recorded outputs on the stories260K models
// (../shared/reference): prompt tokenization, 128 greedy tokens, top-20 logits of the
// first positions, and perplexity.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/reference_cases.h"
#include "loom/loom.h"

namespace loom {
namespace {

const std::string kShared = LOOM_SHARED_DIR;

using testing_support::ReferenceCase;

std::vector<ReferenceCase> read_cases(const std::string& file) {
  return testing_support::read_reference_cases(kShared + "/reference/" + file);
}

std::string read_text(const std::string& path) {
  return testing_support::read_whole_text(path);
}

struct Variant {
  const char* model;
  const char* reference;
  int exact_ids;          // greedy ids that must match exactly
  float logit_tolerance;  // largest |logit - reference| allowed over the top-20 logits
  float mean_tolerance;   // largest mean |logit - reference| allowed
  double perplexity;
};

class Reference : public ::testing::TestWithParam<Variant> {
 protected:
  static std::shared_ptr<Model> load(const Variant& v) {
    return Model::load(kShared + "/models/" + v.model);
  }
};

TEST_P(Reference, PromptTokenization) {
  const Variant v = GetParam();
  const auto model = load(v);
  for (const ReferenceCase& c : read_cases(v.reference)) {
    EXPECT_EQ(model->tokenize(c.prompt), c.prompt_ids) << c.prompt;
  }
}

TEST_P(Reference, GreedyTokens) {
  const Variant v = GetParam();
  const auto model = load(v);
  Engine engine(model, {.threads = 2, .context = 512});
  int total_matching = 0;
  for (const ReferenceCase& c : read_cases(v.reference)) {
    Request request{.prompt = c.prompt, .max_tokens = 128, .ignore_eos = true};
    request.sampling.temperature = 0;
    const Completion result = engine.generate(request);
    ASSERT_EQ(result.first().tokens.size(), 128u);
    int matching = 0;
    while (matching < 128 && result.first().tokens[matching] == c.greedy_ids[matching]) ++matching;
    total_matching += matching;
    EXPECT_GE(matching, v.exact_ids)
        << "prompt '" << c.prompt << "' diverges at token " << matching;
  }
  RecordProperty("matching_prefix_tokens", total_matching);
}

TEST_P(Reference, TopLogits) {
  const Variant v = GetParam();
  const auto model = load(v);
  Engine engine(model, {.threads = 2, .context = 512});
  const int64_t n_vocab = model->info().n_vocab;
  double worst = 0;
  double total = 0;
  int64_t count = 0;
  for (const ReferenceCase& c : read_cases(v.reference)) {
    // The prompt followed by the first greedy tokens: position n_prompt - 1 + i predicts
    // greedy token i.
    std::vector<int32_t> tokens = c.prompt_ids;
    const size_t n_prompt = tokens.size();
    tokens.insert(tokens.end(), c.greedy_ids.begin(), c.greedy_ids.begin() + 4);
    const std::vector<float> logits = engine.evaluate(tokens);
    ASSERT_EQ(c.top_logits.size(), 5u);
    for (size_t i = 0; i < c.top_logits.size(); ++i) {
      const float* row = logits.data() + (n_prompt - 1 + i) * n_vocab;
      for (const auto& [id, expected] : c.top_logits[i]) {
        const double diff = std::abs(row[id] - expected);
        worst = std::max(worst, diff);
        total += diff;
        ++count;
        EXPECT_NEAR(row[id], expected, v.logit_tolerance)
            << "prompt '" << c.prompt << "' position " << i << " token " << id;
      }
    }
  }
  const double mean = total / static_cast<double>(count);
  EXPECT_LE(mean, v.mean_tolerance);
  RecordProperty("max_abs_logit_difference", std::to_string(worst));
  std::printf("%s: |logit - reference| over %lld top-20 logits: max %.6f, mean %.6f\n", v.model,
              static_cast<long long>(count), worst, mean);
}

TEST_P(Reference, Perplexity) {
  const Variant v = GetParam();
  const auto model = load(v);
  Engine engine(model, {.threads = 2, .context = 128, .batch_tokens = 128});
  const PerplexityResult r = perplexity(
      engine, *model, read_text(kShared + "/reference/stories-text.txt"), {.chunk = 128});
  EXPECT_EQ(r.n_chunks, 10);
  EXPECT_EQ(r.n_scored, 10 * 63);
  EXPECT_NEAR(r.perplexity, v.perplexity, v.perplexity * 0.005);
  std::printf("%s: perplexity %.4f (reference %.4f)\n", v.model, r.perplexity, v.perplexity);
}

INSTANTIATE_TEST_SUITE_P(
    Stories260K, Reference,
    ::testing::Values(
        Variant{"stories260K.gguf", "stories260K-greedy.jsonl", 128, 3e-3f, 5e-4f, 3.4257},
        Variant{"stories260K-q8_0.gguf", "stories260K-q8_0-greedy.jsonl", 32, 1e-3f, 1e-4f, 3.4313},
        Variant{"stories260K-q4_0.gguf", "stories260K-q4_0-greedy.jsonl", 32, 0.15f, 0.03f,
                3.6154}),
    [](const auto& info) {
      std::string name = info.param.model;
      name = name.substr(0, name.find(".gguf"));
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

}  // namespace
}  // namespace loom
