// Cost of one sampling step at a real vocabulary size (32000, Llama-2; 128256, Llama-3),
// greedy against the full chain, to compare with the time of a decode step.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "sampling/logprobs.h"
#include "sampling/sampler.h"

namespace loom {
namespace {

std::vector<float> make_logits(int32_t n_vocab) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  for (float& x : logits) x = normal(rng);
  return logits;
}

SamplingParams full_chain() {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.1f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.5f;
  p.seed = 7;
  return p;
}

void run(benchmark::State& state, SamplingParams params) {
  const auto n_vocab = static_cast<int32_t>(state.range(0));
  const std::vector<float> logits = make_logits(n_vocab);
  Sampler sampler(params);
  std::vector<int32_t> prompt(64);
  for (int i = 0; i < 64; ++i) prompt[i] = i * 7;
  sampler.set_prompt(prompt);
  for (auto _ : state) {
    const int32_t token = sampler.sample(logits.data(), n_vocab);
    sampler.accept(token);
    benchmark::DoNotOptimize(token);
  }
}

void BM_Greedy(benchmark::State& state) {
  SamplingParams p;
  p.temperature = 0;
  run(state, p);
}

void BM_FullChain(benchmark::State& state) { run(state, full_chain()); }

void BM_FullChainNoTopK(benchmark::State& state) {
  SamplingParams p = full_chain();
  p.top_k = 0;
  run(state, p);
}

void BM_Logprobs20(benchmark::State& state) {
  const auto n_vocab = static_cast<int32_t>(state.range(0));
  const std::vector<float> logits = make_logits(n_vocab);
  for (auto _ : state) benchmark::DoNotOptimize(token_logprobs(logits.data(), n_vocab, 3, 20));
}

BENCHMARK(BM_Greedy)->Arg(32000)->Arg(128256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FullChain)->Arg(32000)->Arg(128256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FullChainNoTopK)->Arg(32000)->Arg(128256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Logprobs20)->Arg(32000)->Arg(128256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace loom

BENCHMARK_MAIN();
