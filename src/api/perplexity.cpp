#include <cmath>

#include "core/error.h"
#include "core/timing.h"
#include "loom/loom.h"
#include "sampling/logprobs.h"

namespace loom {

PerplexityResult perplexity(Engine& engine, const Model& model, std::string_view text,
                            const PerplexityOptions& options,
                            const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t chunk = options.chunk;
  if (chunk < 4) fail("perplexity chunk size must be at least 4 tokens, got {}", chunk);
  if (chunk > engine.context()) {
    fail("perplexity chunk size {} exceeds the context size {}", chunk, engine.context());
  }
  const std::vector<int32_t> tokens = model.tokenize(text, /*add_special=*/true);
  const int64_t n_chunks = static_cast<int64_t>(tokens.size()) / chunk;
  if (n_chunks == 0) {
    fail("the text has {} tokens, fewer than one chunk of {}: use a longer text or a smaller -c",
         tokens.size(), chunk);
  }
  const int32_t bos = model.bos_token();
  if (bos < 0) fail("perplexity needs a BOS token and this vocabulary has none");
  const int64_t n_vocab = model.info().n_vocab;
  const double start = now_seconds();

  double nll_sum = 0;
  int64_t n_scored = 0;
  std::vector<int32_t> window(static_cast<size_t>(chunk));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy(tokens.begin() + c * chunk, tokens.begin() + (c + 1) * chunk, window.begin());
    window[0] = bos;
    const std::vector<float> logits = engine.evaluate(window);
    // Score the second half: the logits at position i predict token i + 1.
    for (int64_t i = chunk / 2; i < chunk - 1; ++i) {
      const float* row = logits.data() + i * n_vocab;
      const double log_prob = row[window[i + 1]] - log_sum_exp(row, static_cast<int32_t>(n_vocab));
      nll_sum -= log_prob;
      ++n_scored;
    }
    if (progress) progress(c + 1, n_chunks);
  }
  return {std::exp(nll_sum / static_cast<double>(n_scored)), n_chunks, n_scored,
          now_seconds() - start};
}

}  // namespace loom
