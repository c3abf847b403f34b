#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace loom::server {
namespace {

// vLLM's bucket boundaries for these histograms.
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                          20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kE2eBuckets = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                         5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                         60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const std::vector<double> kTokenBuckets = {1,   2,    5,    10,   20,    50,    100,   200,
                                           500, 1000, 2000, 5000, 10000, 20000, 50000, 100000};

std::string format_number(double value) {
  return fmt::format("{}", value);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, format_number(bounds_[i]), cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, format_number(sum_), name, count_);
}

Metrics::Metrics()
    : time_to_first_token_(kTtftBuckets),
      inter_token_latency_(kItlBuckets),
      e2e_latency_(kE2eBuckets),
      prompt_tokens_(kTokenBuckets),
      generation_tokens_(kTokenBuckets) {}

void Metrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  time_to_first_token_.observe(seconds);
}

void Metrics::observe_inter_token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  inter_token_latency_.observe(seconds);
}

void Metrics::observe_request_done(double e2e_seconds, int64_t prompt_tokens,
                                   int64_t generated_tokens, const std::string& finish_reason) {
  std::lock_guard lock(mutex_);
  e2e_latency_.observe(e2e_seconds);
  prompt_tokens_.observe(static_cast<double>(prompt_tokens));
  generation_tokens_.observe(static_cast<double>(generated_tokens));
  prompt_tokens_total_ += static_cast<uint64_t>(prompt_tokens);
  generation_tokens_total_ += static_cast<uint64_t>(generated_tokens);
  if (finish_reason == "stop") {
    ++finished_stop_;
  } else if (finish_reason == "length") {
    ++finished_length_;
  } else {
    ++finished_abort_;
  }
}

void Metrics::count_error(int status) {
  std::lock_guard lock(mutex_);
  (status >= 500 ? errors_5xx_ : errors_4xx_) += 1;
}

std::string Metrics::render(const EngineStats& stats, const MemoryStats& memory,
                            const std::string& model_name) const {
  std::lock_guard lock(mutex_);
  std::string out;
  auto gauge = [&](const char* name, const char* help, double value) {
    out += fmt::format("# HELP loom:{} {}\n# TYPE loom:{} gauge\nloom:{} {}\n", name, help, name,
                       name, format_number(value));
  };
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    out += fmt::format("# HELP loom:{} {}\n# TYPE loom:{} counter\nloom:{} {}\n", name, help, name,
                       name, value);
  };
  // Prometheus' standard process metrics keep their names (no loom: prefix).
  out += fmt::format(
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}\n"
      "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
      "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}\n",
      memory.resident_bytes, fmt::format("{:.2f}", memory.start_time_seconds));
  gauge("model_weight_bytes",
        "Bytes of model weights the kernels read (mapped from the file or repacked at load).",
        static_cast<double>(memory.weight_bytes));
  gauge("kv_cache_capacity_bytes", "Bytes of the KV cache pool, allocated at start.",
        static_cast<double>(memory.kv_capacity_bytes));
  gauge("kv_cache_used_bytes", "Bytes of the KV cache held by running sequences.",
        static_cast<double>(memory.kv_used_bytes));
  out += fmt::format(
      "# HELP loom:model_info The served model.\n# TYPE loom:model_info gauge\n"
      "loom:model_info{{model_name=\"{}\"}} 1\n",
      model_name);
  gauge("num_requests_running", "Requests whose sequences are being computed.", stats.running);
  gauge("num_requests_waiting", "Requests queued for a free sequence.", stats.waiting);
  gauge("max_num_seqs", "Sequences that run at once.", stats.max_sequences);
  gauge("kv_cache_usage_perc", "Fraction of KV cache positions in use (1 = full).",
        stats.kv_capacity_tokens > 0 ? static_cast<double>(stats.kv_used_tokens) /
                                           static_cast<double>(stats.kv_capacity_tokens)
                                     : 0.0);
  gauge("kv_cache_used_tokens", "KV cache positions held by running sequences.",
        static_cast<double>(stats.kv_used_tokens));
  gauge("kv_cache_cached_tokens",
        "KV cache positions held only by the prefix cache (reusable; evicted when needed).",
        static_cast<double>(stats.kv_cached_tokens));
  counter("prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
          static_cast<uint64_t>(stats.prefix_cache_queried_tokens));
  counter("prefix_cache_hits_total", "Prompt tokens found in the prefix cache (not computed).",
          static_cast<uint64_t>(stats.prefix_cache_hit_tokens));
  gauge("kv_cache_capacity_tokens", "KV cache positions in all.",
        static_cast<double>(stats.kv_capacity_tokens));
  counter("prompt_tokens_total", "Prompt tokens of finished requests.", prompt_tokens_total_);
  counter("generation_tokens_total", "Generated tokens of finished requests.",
          generation_tokens_total_);
  out +=
      "# HELP loom:request_success_total Finished requests by finish reason.\n"
      "# TYPE loom:request_success_total counter\n";
  out += fmt::format("loom:request_success_total{{finished_reason=\"stop\"}} {}\n", finished_stop_);
  out += fmt::format("loom:request_success_total{{finished_reason=\"length\"}} {}\n",
                     finished_length_);
  out +=
      fmt::format("loom:request_success_total{{finished_reason=\"abort\"}} {}\n", finished_abort_);
  out +=
      "# HELP loom:request_errors_total Requests refused with an HTTP error.\n"
      "# TYPE loom:request_errors_total counter\n";
  out += fmt::format("loom:request_errors_total{{status=\"4xx\"}} {}\n", errors_4xx_);
  out += fmt::format("loom:request_errors_total{{status=\"5xx\"}} {}\n", errors_5xx_);
  time_to_first_token_.render("loom:time_to_first_token_seconds",
                              "Time from request to first generated token.", out);
  inter_token_latency_.render("loom:inter_token_latency_seconds",
                              "Time between consecutive generated tokens of a stream.", out);
  e2e_latency_.render("loom:e2e_request_latency_seconds", "Time from request to its last token.",
                      out);
  prompt_tokens_.render("loom:request_prompt_tokens", "Prompt tokens per request.", out);
  generation_tokens_.render("loom:request_generation_tokens", "Generated tokens per request.", out);
  return out;
}

}  // namespace loom::server
