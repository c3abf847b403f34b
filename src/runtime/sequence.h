// One generation in flight: its tokens (prompt, then generated), how many positions the
// KV cache already holds, and its sampler. The runtime never sees text.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/sampler.h"

namespace loom {

struct Sequence {
  Sequence(int64_t id, int32_t kv_slot, std::vector<int32_t> prompt, const SamplingParams& sampling)
      : id(id),
        kv_slot(kv_slot),
        tokens(std::move(prompt)),
        n_prompt(static_cast<int64_t>(tokens.size())),
        sampler(sampling) {}

  int64_t id;
  int32_t kv_slot;
  std::vector<int32_t> tokens;  // prompt followed by generated tokens
  int64_t n_prompt;
  int64_t n_computed = 0;  // positions [0, n_computed) are in the KV cache
  Sampler sampler;

  int64_t n_generated() const { return static_cast<int64_t>(tokens.size()) - n_prompt; }
};

}  // namespace loom
