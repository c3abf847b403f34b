// Draft tokens for speculative decoding by prompt lookup: the sequence's latest n tokens
// are looked up earlier in the sequence (prompt and output so far), and the tokens that
// followed that occurrence are proposed. Free to compute, and right whenever a reply copies
// its prompt (quoting, editing, summarising with names, code) or repeats itself.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace loom {

struct NgramDraftOptions {
  int32_t max_tokens = 8;  // most tokens proposed
  int32_t min_ngram = 2;   // shortest suffix looked up (longer ones are tried first)
  int32_t max_ngram = 4;
};

// The proposal after `tokens` (empty when the suffix occurs nowhere earlier): the
// continuation of the most recent earlier occurrence of the longest matching suffix.
std::vector<int32_t> ngram_draft(std::span<const int32_t> tokens, const NgramDraftOptions& options);

}  // namespace loom
