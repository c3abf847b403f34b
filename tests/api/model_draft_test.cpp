// Speculative decoding with a draft model. Greedy output is token for token the target's;
// sampled output follows the target's distribution (the acceptance rule), checked with a
// chi-squared test against decoding without a draft, with a random-weight draft whose
// proposals are far from the target's (so a wrong rule would show). A draft with another
// vocabulary is refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "loom/error.h"
#include "loom/loom.h"
#include "loom/synth.h"

namespace loom {
namespace {

const std::string kShared = LOOM_SHARED_DIR;
const std::string kPrompt = "Tom had a red ball. Tom had a red ball. Tom had a";

// A random-weight model with stories260K's vocabulary: a draft that is mostly wrong.
std::string random_draft_path() {
  static const std::string path = [] {
    const std::string p =
        ::testing::TempDir() + "/loom_random_draft_" + std::to_string(getpid()) + ".gguf";
    synthesize_model({.shape = "tiny",
                      .type = "f32",
                      .tokenizer_path = kShared + "/models/stories260K.gguf",
                      .output_path = p,
                      .seed = 7});
    return p;
  }();
  return path;
}

void expect_same_tokens(const Completion& a, const Completion& b) {
  ASSERT_EQ(a.choices.size(), b.choices.size());
  for (size_t i = 0; i < a.choices.size(); ++i) {
    EXPECT_EQ(a.choices[i].tokens, b.choices[i].tokens) << "choice " << i;
    EXPECT_EQ(a.choices[i].finish_reason, b.choices[i].finish_reason);
    ASSERT_EQ(a.choices[i].logprobs.size(), b.choices[i].logprobs.size());
    for (size_t t = 0; t < a.choices[i].logprobs.size(); ++t) {
      EXPECT_EQ(a.choices[i].logprobs[t].logprob, b.choices[i].logprobs[t].logprob);
    }
  }
}

TEST(ModelDraft, GreedyOutputIsTheTargetsWithEveryDraft) {
  auto target = Model::load(kShared + "/models/stories260K.gguf");
  Engine plain(target, {.threads = 2, .context = 256, .max_sequences = 2});
  for (const std::string& draft_file :
       {kShared + "/models/stories260K-q8_0.gguf", random_draft_path()}) {
    EngineOptions options{.threads = 2, .context = 256, .max_sequences = 2};
    options.draft_model = Model::load(draft_file);
    options.draft_min = 3;  // this model is too small for drafts to pay: force them
    Engine drafting(target, options);
    int64_t proposed = 0, accepted = 0;
    std::vector<Request> requests;
    Request greedy{.prompt = kPrompt, .max_tokens = 40, .logprobs = 1};
    greedy.sampling.temperature = 0;
    requests.push_back(greedy);
    Request biased = greedy;
    biased.sampling.logit_bias = {{13, 3.0f}};
    biased.sampling.repetition_penalty = 1.3f;
    requests.push_back(biased);
    Request grammar = greedy;
    grammar.grammar = R"(root ::= (" Tom had a red ball.")+ " The end.")";
    requests.push_back(grammar);
    Request stop = greedy;
    stop.stop = {"red ball. Tom"};
    requests.push_back(stop);
    for (const Request& request : requests) {
      const Completion a = plain.generate(request);
      const Completion b = drafting.generate(request);
      expect_same_tokens(a, b);
      proposed += b.timings.draft_tokens;
      accepted += b.timings.draft_accepted;
    }
    EXPECT_GT(proposed, 0) << draft_file;
    if (draft_file.find("q8_0") != std::string::npos) {
      // The quantized model agrees with the target on most greedy tokens (fewer where the
      // penalties and the grammar, which only the target applies, change them).
      EXPECT_GT(accepted * 2, proposed) << accepted << " of " << proposed;
    }
  }
}

// Tallies of the first three tokens of many sampled replies.
std::map<std::vector<int32_t>, int64_t> tally(Engine& engine, int32_t requests, uint64_t seed,
                                              int64_t& proposed, int64_t& accepted) {
  std::map<std::vector<int32_t>, int64_t> counts;
  for (int32_t i = 0; i < requests; ++i) {
    Request r{.prompt = kPrompt, .max_tokens = 3, .n = 8};
    r.sampling.temperature = 1.0f;
    r.sampling.top_k = 3;
    r.sampling.top_p = 1.0f;
    r.sampling.min_p = 0.0f;
    r.sampling.seed = seed + static_cast<uint64_t>(i) * 8;
    const Completion c = engine.generate(r);
    for (const Choice& choice : c.choices) ++counts[choice.tokens];
    proposed += c.timings.draft_tokens;
    accepted += c.timings.draft_accepted;
  }
  return counts;
}

// Pearson's chi-squared test of homogeneity of two samples over the same cells; cells
// too rare in both are pooled. Returns {statistic, degrees of freedom}.
std::pair<double, int> homogeneity(const std::map<std::vector<int32_t>, int64_t>& a,
                                   const std::map<std::vector<int32_t>, int64_t>& b) {
  std::map<std::vector<int32_t>, std::pair<int64_t, int64_t>> cells;
  int64_t na = 0, nb = 0;
  for (const auto& [k, v] : a) cells[k].first += v, na += v;
  for (const auto& [k, v] : b) cells[k].second += v, nb += v;
  std::vector<std::pair<int64_t, int64_t>> pooled;
  std::pair<int64_t, int64_t> rare{0, 0};
  for (const auto& [k, v] : cells) {
    if (v.first + v.second < 20) {
      rare.first += v.first;
      rare.second += v.second;
    } else {
      pooled.push_back(v);
    }
  }
  if (rare.first + rare.second > 0) pooled.push_back(rare);
  const double n = static_cast<double>(na + nb);
  double chi2 = 0;
  for (auto [x, y] : pooled) {
    const double total = static_cast<double>(x + y);
    const double ex = total * static_cast<double>(na) / n, ey = total * static_cast<double>(nb) / n;
    chi2 += (x - ex) * (x - ex) / ex + (y - ey) * (y - ey) / ey;
  }
  return {chi2, static_cast<int>(pooled.size()) - 1};
}

// The chi-squared value with `df` degrees of freedom exceeded with probability ~1e-4
// (Wilson-Hilferty approximation).
double chi2_limit(int df) {
  const double z = 3.72;
  const double k = df;
  const double t = 1 - 2 / (9 * k) + z * std::sqrt(2 / (9 * k));
  return k * t * t * t;
}

TEST(ModelDraft, SampledOutputFollowsTheTargetsDistribution) {
  auto target = Model::load(kShared + "/models/stories260K.gguf");
  EngineOptions plain_options{.threads = 2, .context = 128, .max_sequences = 8};
  Engine plain(target, plain_options);
  const int32_t requests = 250;  // x 8 samples
  int64_t unused = 0;
  const auto reference = tally(plain, requests, 1, unused, unused);
  // A close draft (the Q4_0 copy: many proposals kept, many replaced) and a random one
  // (nearly all replaced by residual draws). Other seeds than the reference's: two
  // independent samples of what must be one distribution.
  for (const std::string& draft_file :
       {kShared + "/models/stories260K-q4_0.gguf", random_draft_path()}) {
    EngineOptions options = plain_options;
    options.draft_model = Model::load(draft_file);
    options.draft_min = 1;
    Engine drafting(target, options);
    int64_t proposed = 0, accepted = 0;
    const auto speculative = tally(drafting, requests, 1000000, proposed, accepted);
    const auto [chi2, df] = homogeneity(reference, speculative);
    EXPECT_GT(df, 5);
    EXPECT_LT(chi2, chi2_limit(df)) << draft_file << ": df " << df;
    EXPECT_GT(proposed, 1000) << draft_file;
    EXPECT_LT(accepted, proposed) << draft_file;
    if (draft_file.find("q4_0") != std::string::npos) {
      EXPECT_GT(accepted * 4, proposed) << accepted << " of " << proposed;
    }
  }
  // The test can fail: the random draft's own samples, as if every proposal were kept,
  // are far from the target's distribution.
  Engine draft_engine(Model::load(random_draft_path()), plain_options);
  const auto drafts = tally(draft_engine, requests, 1000000, unused, unused);
  const auto [chi2_draft, df_draft] = homogeneity(reference, drafts);
  EXPECT_GT(chi2_draft, chi2_limit(df_draft));
}

TEST(ModelDraft, AnotherVocabularyIsRefused) {
  auto target = Model::load(kShared + "/models/stories260K.gguf");
  const std::string other =
      ::testing::TempDir() + "/loom_other_vocab_" + std::to_string(getpid()) + ".gguf";
  synthesize_model({.shape = "tiny",
                    .type = "f32",
                    .tokenizer_path = kShared + "/tokenizer-tests/ggml-vocab-gpt-2.gguf",
                    .output_path = other});
  EngineOptions options{.threads = 1, .context = 64};
  options.draft_model = Model::load(other);
  try {
    Engine engine(target, options);
    FAIL() << "a draft with another vocabulary was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary"), std::string::npos) << e.what();
  }
  std::remove(other.c_str());
  options.draft_model = Model::load(kShared + "/models/stories260K-q8_0.gguf");
  options.draft = "ngram";
  EXPECT_THROW(Engine(target, options), Error);
  options.draft = "";
  options.draft_min = 9;  // more than draft_max
  EXPECT_THROW(Engine(target, options), Error);
}

}  // namespace
}  // namespace loom
