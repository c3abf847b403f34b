// Random walks through a grammar processor: what a sampler at temperature 1 with a
// uniform model would do, biased toward short tokens (and, after a while, toward closing
// brackets and quotes) so that walks through free-text states end in reasonable time.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "grammar/grammar_processor.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar::test {

struct WalkResult {
  std::string text;
  int n_tokens = 0;
  bool ended = false;  // an end-of-generation token was chosen
};

inline WalkResult random_walk(GrammarProcessor& processor, const Tokenizer& tokenizer,
                              uint32_t seed, int max_tokens = 4000) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  WalkResult result;
  std::vector<float> logits(tokenizer.n_vocab(), 0.0f);
  Candidates candidates;
  std::vector<std::string> pieces(tokenizer.n_vocab());
  for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) pieces[id] = tokenizer.token_to_piece(id);
  std::vector<int32_t> eog, short_tokens, closers, all;
  while (result.n_tokens < max_tokens) {
    candidates.assign(logits.data(), tokenizer.n_vocab());
    processor.apply(candidates);
    eog.clear(), short_tokens.clear(), closers.clear(), all.clear();
    for (const TokenCandidate& c : candidates.items) {
      if (tokenizer.is_end_of_generation(c.id)) {
        eog.push_back(c.id);
        continue;
      }
      all.push_back(c.id);
      const std::string& piece = pieces[c.id];
      if (piece.size() == 1) short_tokens.push_back(c.id);
      if (piece == "]" || piece == "}" || piece == "\"" || piece == "0" || piece == "null" ||
          piece == ")" || piece == "\n") {
        closers.push_back(c.id);
      }
    }
    const auto pick = [&](const std::vector<int32_t>& from) { return from[rng() % from.size()]; };
    int32_t token;
    if (!eog.empty() && (all.empty() || unit(rng) < 0.5)) {
      token = pick(eog);
    } else if (result.n_tokens > 300 && !closers.empty() && unit(rng) < 0.9) {
      token = pick(closers);
    } else if (!short_tokens.empty() && unit(rng) < 0.7) {
      token = pick(short_tokens);
    } else {
      token = pick(all);
    }
    processor.accept(token);
    ++result.n_tokens;
    if (tokenizer.is_end_of_generation(token)) {
      result.ended = true;
      break;
    }
    result.text += pieces[token];
  }
  return result;
}

}  // namespace loom::grammar::test
