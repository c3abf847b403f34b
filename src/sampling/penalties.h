// History-dependent processors: logit bias, repetition / presence / frequency penalties
// and bans. They run first in the chain, while the candidates are still the whole
// vocabulary in id order (candidate i is token i).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sampling/logits_processor.h"

namespace loom {

// logit[token] += bias; a bias of -100 or below bans the token (OpenAI semantics).
class LogitBiasProcessor final : public LogitsProcessor {
 public:
  explicit LogitBiasProcessor(std::vector<std::pair<int32_t, float>> bias)
      : bias_(std::move(bias)) {}
  void apply(Candidates& candidates) override;

 private:
  std::vector<std::pair<int32_t, float>> bias_;
};

// Repetition penalty (llama.cpp / CTRL: positive logits divided by it, negative ones
// multiplied) over the last `window` tokens of prompt and output; presence and frequency
// penalties (OpenAI: logit -= presence * [count > 0] + frequency * count) over the output.
class PenaltiesProcessor final : public LogitsProcessor {
 public:
  PenaltiesProcessor(float repetition, int32_t window, float presence, float frequency);
  void set_prompt(std::span<const int32_t> prompt);
  void apply(Candidates& candidates) override;
  void accept(int32_t token) override;
  void reset() override;

 private:
  void push_window(int32_t token);

  float repetition_, presence_, frequency_;
  int32_t window_;                                  // -1: everything
  std::deque<int32_t> recent_;                      // (window) last tokens
  std::unordered_map<int32_t, int32_t> in_window_;  // token -> occurrences in recent_
  std::unordered_map<int32_t, int32_t> generated_;  // token -> occurrences in the output
};

// Sets the logits of `tokens` to -inf while active (min_tokens: end-of-generation and stop
// tokens are banned until enough tokens were generated).
class BanProcessor final : public LogitsProcessor {
 public:
  explicit BanProcessor(std::vector<int32_t> tokens) : tokens_(std::move(tokens)) {}
  void set_active(bool active) { active_ = active; }
  void apply(Candidates& candidates) override;

 private:
  std::vector<int32_t> tokens_;
  bool active_ = false;
};

}  // namespace loom
