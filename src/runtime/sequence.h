// One sequence in the KV cache: its tokens (prompt, then generated) and how many
// positions the cache already holds. The runtime never sees text and never samples:
// whoever owns the sequence appends the next token.
#pragma once

#include <cstdint>
#include <vector>

namespace loom {

struct Sequence {
  int64_t id = 0;
  int32_t kv_slot = 0;
  std::vector<int32_t> tokens;  // prompt followed by generated tokens
  int64_t n_prompt = 0;
  int64_t n_computed = 0;  // positions [0, n_computed) are in the KV cache
  int64_t n_cached = 0;    // prompt positions taken from the prefix cache, not computed
  // The last n_draft tokens are proposals (speculative decoding): the step that computes
  // them returns a logits row for each of them and for the token before them.
  int64_t n_draft = 0;
  // Chain hashes of the full blocks computed so far (prefix cache keys), in order.
  std::vector<uint64_t> block_hashes;

  int64_t n_generated() const { return static_cast<int64_t>(tokens.size()) - n_prompt; }
  bool has_pending() const { return n_computed < static_cast<int64_t>(tokens.size()); }
};

}  // namespace loom
