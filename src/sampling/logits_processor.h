// One link of the sampling chain (as in llama.cpp and vLLM): narrows or reshapes the
// candidates before the final draw. Processors that depend on history (penalties,
// grammars) see every accepted token through accept().
#pragma once

#include <cstdint>

#include "sampling/candidates.h"

namespace loom {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  virtual void apply(Candidates& candidates) = 0;
  virtual void accept(int32_t token) {}
  virtual void reset() {}
};

}  // namespace loom
