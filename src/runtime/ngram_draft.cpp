#include "runtime/ngram_draft.h"

#include <algorithm>

namespace loom {

std::vector<int32_t> ngram_draft(std::span<const int32_t> tokens,
                                 const NgramDraftOptions& options) {
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  if (options.max_tokens <= 0) return {};
  for (int64_t n = options.max_ngram; n >= options.min_ngram; --n) {
    if (n >= n_tokens) continue;
    const std::span<const int32_t> suffix = tokens.subspan(static_cast<size_t>(n_tokens - n));
    // Most recent first: the latest context is the likeliest to continue the same way.
    for (int64_t start = n_tokens - n - 1; start >= 0; --start) {
      if (!std::equal(suffix.begin(), suffix.end(), tokens.begin() + start)) continue;
      const int64_t from = start + n;
      const int64_t count = std::min<int64_t>(options.max_tokens, n_tokens - from);
      return {tokens.begin() + from, tokens.begin() + from + count};
    }
  }
  return {};
}

}  // namespace loom
