// Turns a row of logits into the next token: a chain of processors in a fixed,
// documented order, then a seeded draw.
//
// Order (llama.cpp's): logit bias -> penalties -> bans (min_tokens) -> constraints
// (grammar) -> top-k -> typical -> top-p -> min-p -> temperature -> draw.
// Temperature 0 is greedy: the first four still apply, then the argmax (ties to the
// lowest id) replaces the rest.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "sampling/candidates.h"
#include "sampling/logits_processor.h"
#include "sampling/rng.h"

namespace loom {

class BanProcessor;
class PenaltiesProcessor;

struct SamplingParams {
  float temperature = 0.8f;         // 0 = greedy
  int32_t top_k = 40;               // 0 = off
  float top_p = 0.95f;              // 1 = off
  float min_p = 0.05f;              // 0 = off
  float typical_p = 1.0f;           // 1 = off
  float repetition_penalty = 1.0f;  // 1 = off
  int32_t repeat_last_n = 64;       // -1 = the whole history, 0 = off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;
  uint64_t seed = 0;
  int32_t min_keep = 1;
};

// loom::Error naming the parameter when a value is out of range (never clamped).
// n_vocab > 0 also checks the token ids of logit_bias.
void validate(const SamplingParams& params, int32_t n_vocab = 0);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  ~Sampler();
  Sampler(Sampler&&) noexcept;

  // The prompt, for the repetition penalty's window.
  void set_prompt(std::span<const int32_t> prompt);
  // Tokens banned while set_ban_active(true) (min_tokens).
  void set_banned(std::vector<int32_t> tokens);
  void set_ban_active(bool active);
  // A constraint (e.g. a grammar) applied after the penalties, before greedy or the draw.
  void add_constraint(std::unique_ptr<LogitsProcessor> constraint);

  int32_t sample(const float* logits, int32_t n_vocab);
  // Speculative decoding with a sampled draft: the token at a position where the draft
  // proposed `draft`, drawn from distribution q (n_vocab probabilities). Returns `draft`
  // when the acceptance rule keeps it, else the token drawn in its place; either way the
  // result is distributed as sample() would draw it. With an empty q (a draft that was
  // not sampled: n-grams, greedy drafts) this is sample(): keep the draft when it is the
  // token drawn, which is the same rule for a draft that puts all its mass on one token.
  int32_t verify(const float* logits, int32_t n_vocab, int32_t draft, std::span<const float> q);
  // The distribution the draw is made from (after every processor), for a draft model
  // that samples the way the target will: q for verify(). Not for greedy (temperature 0).
  const Candidates& distribution(const float* logits, int32_t n_vocab);
  // A draw from the last distribution() with this sampler's random stream.
  int32_t draw_from_distribution();
  // Tells history-dependent processors which token was appended.
  void accept(int32_t token);

 private:
  bool shapes_logits() const;
  void compute_distribution(const float* logits, int32_t n_vocab);

  SamplingParams params_;
  std::vector<std::unique_ptr<LogitsProcessor>> shaping_;     // bias, penalties, bans, constraints
  std::vector<std::unique_ptr<LogitsProcessor>> truncation_;  // top-k ... temperature
  PenaltiesProcessor* penalties_ = nullptr;                   // owned by shaping_
  BanProcessor* ban_ = nullptr;                               // owned by shaping_
  Candidates candidates_;
  Rng rng_;
};

// Index of the largest value, the lowest index among equals.
int32_t argmax(const float* values, int32_t n);

}  // namespace loom
