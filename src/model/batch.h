// The hand-off from the scheduler to a model's forward pass: the positions to compute
// in one step, from any number of sequences (prefill and decode are the same thing).
#pragma once

#include <cstdint>
#include <vector>

namespace loom {

struct Batch {
  std::vector<int32_t> tokens;        // (n_tokens) token ids
  std::vector<int32_t> positions;     // (n_tokens) position of each token in its sequence
  std::vector<int32_t> kv_slots;      // (n_tokens) KV cache slot of the token's sequence
  std::vector<uint8_t> wants_logits;  // (n_tokens) 1 where the caller needs logits

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_outputs() const {
    int64_t n = 0;
    for (uint8_t w : wants_logits) n += w;
    return n;
  }
  void clear() {
    tokens.clear();
    positions.clear();
    kv_slots.clear();
    wants_logits.clear();
  }
  void add(int32_t token, int32_t position, int32_t kv_slot, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    kv_slots.push_back(kv_slot);
    wants_logits.push_back(logits ? 1 : 0);
  }
};

}  // namespace loom
