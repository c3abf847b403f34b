// Speculative decoding with n-gram drafts: the model verifies several proposed tokens per
// step, and the output is token for token (and logprob for logprob) what decoding one token
// per step gives, greedy or sampled, with penalties, logit bias, n > 1, grammars, stop
// strings and continuous batching; drafts are proposed and accepted on a prompt that the
// reply copies.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "loom/loom.h"
#include "runtime/ngram_draft.h"

namespace loom {
namespace {

const std::string kShared = LOOM_SHARED_DIR;

// A prompt that repeats itself, so its continuation is easy to guess from itself.
const std::string kRepeating =
    "Tom had a red ball. Tom had a red ball. Tom had a red ball. Tom had a red ball. Tom had a";

std::vector<Request> requests() {
  std::vector<Request> out;
  Request greedy{.prompt = kRepeating, .max_tokens = 48, .logprobs = 2};
  greedy.sampling.temperature = 0;
  out.push_back(greedy);
  Request sampled{.prompt = kRepeating, .max_tokens = 48, .logprobs = 1, .n = 2};
  sampled.sampling.seed = 11;
  sampled.sampling.temperature = 0.5f;
  out.push_back(sampled);
  Request penalised = sampled;
  penalised.n = 1;
  penalised.sampling.repetition_penalty = 1.2f;
  penalised.sampling.frequency_penalty = 0.3f;
  penalised.sampling.logit_bias = {{13, 2.0f}};
  out.push_back(penalised);
  Request grammar{.prompt = kRepeating, .max_tokens = 30};
  grammar.sampling.temperature = 0;
  grammar.grammar = R"(root ::= (" Tom had a red ball.")+ " The end.")";
  out.push_back(grammar);
  Request stop = greedy;
  stop.stop = {"ball. Tom had a red"};
  out.push_back(stop);
  Request short_reply = greedy;
  short_reply.max_tokens = 3;
  out.push_back(short_reply);
  return out;
}

void expect_same(const Completion& a, const Completion& b) {
  ASSERT_EQ(a.choices.size(), b.choices.size());
  for (size_t i = 0; i < a.choices.size(); ++i) {
    EXPECT_EQ(a.choices[i].tokens, b.choices[i].tokens) << "choice " << i;
    EXPECT_EQ(a.choices[i].text, b.choices[i].text);
    EXPECT_EQ(a.choices[i].finish_reason, b.choices[i].finish_reason);
    ASSERT_EQ(a.choices[i].logprobs.size(), b.choices[i].logprobs.size());
    for (size_t t = 0; t < a.choices[i].logprobs.size(); ++t) {
      EXPECT_EQ(a.choices[i].logprobs[t].logprob, b.choices[i].logprobs[t].logprob);
      EXPECT_EQ(a.choices[i].logprobs[t].top, b.choices[i].logprobs[t].top);
    }
  }
}

class SpeculativeModels : public ::testing::TestWithParam<std::string> {};

TEST_P(SpeculativeModels, OutputIsIdenticalToDecodingWithoutDrafts) {
  auto model = Model::load(kShared + "/models/" + GetParam());
  Engine plain(model, {.threads = 2, .context = 256, .max_sequences = 2});
  Engine drafting(model, {.threads = 2, .context = 256, .max_sequences = 2, .draft = "ngram"});
  int64_t proposed = 0, accepted = 0;
  for (const Request& request : requests()) {
    const Completion a = plain.generate(request);
    const Completion b = drafting.generate(request);
    expect_same(a, b);
    EXPECT_EQ(a.timings.draft_tokens, 0);
    proposed += b.timings.draft_tokens;
    accepted += b.timings.draft_accepted;
  }
  EXPECT_GT(proposed, 0);
  EXPECT_GT(accepted, 0) << "a repeating prompt is copied";
  EXPECT_LE(accepted, proposed);
}

TEST_P(SpeculativeModels, ConcurrentRequestsAreUnchangedByEachOthersDrafts) {
  auto model = Model::load(kShared + "/models/" + GetParam());
  Engine plain(model, {.threads = 2, .context = 256, .max_sequences = 4});
  Engine drafting(model, {.threads = 2, .context = 256, .max_sequences = 4, .draft = "ngram"});
  const std::vector<Request> all = requests();
  std::vector<Completion> expected;
  for (const Request& r : all) expected.push_back(plain.generate(r));
  std::vector<std::future<Completion>> running;
  for (const Request& r : all) {
    running.push_back(std::async(std::launch::async, [&, r] { return drafting.generate(r); }));
  }
  for (size_t i = 0; i < all.size(); ++i) expect_same(expected[i], running[i].get());
}

INSTANTIATE_TEST_SUITE_P(Models, SpeculativeModels,
                         ::testing::Values("stories260K.gguf", "stories260K-q8_0.gguf",
                                           "stories260K-q4_0.gguf"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '.' || c == '-') c = '_';
                           return name;
                         });

TEST(Speculative, RequestLimitsAreChecked) {
  auto model = Model::load(kShared + "/models/stories260K.gguf");
  Engine drafting(model, {.threads = 1, .context = 128, .draft = "ngram", .draft_max = 4});
  Request too_many{.prompt = kRepeating, .max_tokens = 8, .draft_max = 5};
  EXPECT_THROW(drafting.generate(too_many), Error);
  Request off{.prompt = kRepeating, .max_tokens = 24, .draft_max = 0};
  off.sampling.temperature = 0;
  EXPECT_EQ(drafting.generate(off).timings.draft_tokens, 0);
  EXPECT_THROW(Engine(model, {.draft = "medusa"}), Error);
}

TEST(NgramDraft, ProposesWhatFollowedTheLatestEarlierOccurrence) {
  const std::vector<int32_t> tokens = {1, 2, 3, 9, 1, 2, 3, 7, 8, 5, 1, 2, 3};
  EXPECT_EQ(ngram_draft(tokens, {.max_tokens = 3}), (std::vector<int32_t>{7, 8, 5}));
  EXPECT_EQ(ngram_draft(tokens, {.max_tokens = 1}), (std::vector<int32_t>{7}));
  EXPECT_TRUE(ngram_draft(std::vector<int32_t>{1, 2, 3, 4}, {}).empty());
  // Only a 1-token suffix repeats: below the shortest n-gram looked up.
  EXPECT_TRUE(ngram_draft(std::vector<int32_t>{5, 1, 6, 1}, {}).empty());
  // The continuation stops at the end of the sequence.
  EXPECT_EQ(ngram_draft(std::vector<int32_t>{4, 4, 4}, {.max_tokens = 8}),
            (std::vector<int32_t>{4}));
}

}  // namespace
}  // namespace loom
