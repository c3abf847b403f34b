// Request metrics for GET /metrics, in the Prometheus text format with vLLM's metric
// names under the "loom:" prefix (vllm:time_to_first_token_seconds becomes
// loom:time_to_first_token_seconds), so existing vLLM dashboards work after a rename.
// Rendered by hand: the format is a few lines per metric, not worth prometheus-cpp.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "loom/loom.h"
#include "server/process_stats.h"

namespace loom::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines of `name` (caller holds the lock).
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> bounds_;    // upper bounds, ascending; +Inf implied
  std::vector<uint64_t> counts_;  // (bounds + 1) non-cumulative counts
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void observe_request_done(double e2e_seconds, int64_t prompt_tokens, int64_t generated_tokens,
                            const std::string& finish_reason);
  void count_error(int status);
  // The whole /metrics page; `stats` and `memory` supply the gauges.
  std::string render(const EngineStats& stats, const MemoryStats& memory,
                     const std::string& model_name) const;

 private:
  mutable std::mutex mutex_;
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;
  Histogram e2e_latency_;
  Histogram prompt_tokens_;
  Histogram generation_tokens_;
  uint64_t prompt_tokens_total_ = 0;
  uint64_t generation_tokens_total_ = 0;
  uint64_t finished_stop_ = 0;
  uint64_t finished_length_ = 0;
  uint64_t finished_abort_ = 0;
  uint64_t errors_4xx_ = 0;
  uint64_t errors_5xx_ = 0;
};

}  // namespace loom::server
