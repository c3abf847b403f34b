// Micro-benchmarks of matmul at TinyLlama-1.1B shapes.
//   matvec (one token, decode): GB/s of weight bytes streamed. "hot" reuses one matrix
//     (the smaller ones then sit in L3); "cold" cycles through copies totalling > 256 MB,
//     so every byte comes from DRAM as in a real decode step.
//   matmul (64 tokens, prefill): GOPS = 2 * rows * cols * tokens / time.
//   read bandwidth: a plain summing loop over 512 MB, and the same loop prefetching 4 KiB
//     ahead as the decode kernels do; the faster of the two is the ceiling for matvec.
//   attention: one GQA group of TinyLlama (8 query heads of 64 over one KV head, F16
//     cache) attending over n_kv positions, on each instruction set; keys/s = heads * n_kv
//     / time.
//   layernorm, gelu: one row on each instruction set the CPU has (scalar, avx2, avx512),
//     GB/s of row bytes read.
// Threads 1 and 2; LOOM_KERNELS_ISA=scalar runs the scalar path.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/stream_read.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quantize.h"

namespace {

using loom::DType;
using loom::ThreadPool;
using loom::kernels::MatmulScratch;
using loom::kernels::WeightMatrix;

struct MatrixShape {
  const char* name;
  int64_t rows;
  int64_t cols;
};

constexpr MatrixShape kShapes[] = {
    {"attn_q_2048x2048", 2048, 2048},
    {"ffn_up_5632x2048", 5632, 2048},
    {"ffn_down_2048x5632", 2048, 5632},
    {"output_32000x2048", 32000, 2048},
};

constexpr int64_t kColdBytes = 256LL << 20;

// Random weights in `type`, `copies` matrices back to back.
class Weights {
 public:
  Weights(DType type, MatrixShape shape, int copies)
      : type_(type), shape_(shape), matrix_bytes_(shape.rows * loom::row_bytes(type, shape.cols)) {
    data_.resize(static_cast<size_t>(matrix_bytes_ * copies));
    std::mt19937 rng(42);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> row(shape.cols);
    const int64_t stride = loom::row_bytes(type, shape.cols);
    // One random matrix, copied: its contents do not change the speed.
    for (int64_t r = 0; r < shape.rows; ++r) {
      for (float& v : row) v = dist(rng);
      loom::kernels::quantize_row(type, row.data(), data_.data() + r * stride, shape.cols);
    }
    for (int c = 1; c < copies; ++c) {
      std::memcpy(data_.data() + c * matrix_bytes_, data_.data(), matrix_bytes_);
    }
    copies_ = copies;
    // Q4_0/Q8_0 as the model loader prepares them: the SIMD kernels read the packed copy.
    for (int c = 0; c < copies; ++c) {
      WeightMatrix w{type_, shape_.rows, shape_.cols, data_.data() + c * matrix_bytes_};
      packed_.push_back(loom::kernels::pack_weights(w));
    }
  }
  WeightMatrix matrix(int copy) const {
    WeightMatrix w{type_, shape_.rows, shape_.cols, data_.data() + copy * matrix_bytes_};
    w.packed = packed_[static_cast<size_t>(copy)];
    return w;
  }
  int copies() const { return copies_; }
  int64_t matrix_bytes() const { return matrix_bytes_; }

 private:
  DType type_;
  MatrixShape shape_;
  int64_t matrix_bytes_;
  int copies_ = 1;
  loom::AlignedBuffer<uint8_t> data_;
  std::vector<std::shared_ptr<const loom::kernels::PackedWeights>> packed_;
};

ThreadPool& pool(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
}

// Built on first use and kept: making a 32000 x 2048 matrix takes a while.
const Weights& weights(DType type, const MatrixShape& shape, bool cold) {
  static std::map<std::tuple<int, std::string, bool>, std::unique_ptr<Weights>> cache;
  auto& w = cache[{static_cast<int>(type), shape.name, cold}];
  if (!w) {
    const int64_t bytes = shape.rows * loom::row_bytes(type, shape.cols);
    const int copies = cold ? static_cast<int>((kColdBytes + bytes - 1) / bytes) : 1;
    w = std::make_unique<Weights>(type, shape, copies);
  }
  return *w;
}

std::vector<float> activations(int64_t n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

void run_matmul(benchmark::State& state, DType type, MatrixShape shape, int64_t n_tokens,
                int threads, bool cold) {
  const Weights& w = weights(type, shape, cold);
  const std::vector<float> x = activations(n_tokens * shape.cols);
  std::vector<float> y(n_tokens * shape.rows);
  MatmulScratch scratch;
  ThreadPool& p = pool(threads);
  int copy = 0;
  for (auto _ : state) {
    loom::kernels::matmul(w.matrix(copy), x.data(), n_tokens, y.data(), p, scratch);
    benchmark::DoNotOptimize(y.data());
    copy = (copy + 1) % w.copies();
  }
  state.SetBytesProcessed(state.iterations() * w.matrix_bytes());
  state.counters["GOPS"] = benchmark::Counter(
      2.0 * static_cast<double>(shape.rows * shape.cols * n_tokens) * state.iterations() / 1e9,
      benchmark::Counter::kIsRate);
}

void read_bandwidth(benchmark::State& state, int threads, bool prefetch) {
  static loom::AlignedBuffer<int64_t> data(512LL << 20 >> 3);
  for (size_t i = 0; i < data.size(); i += 512) data[i] = static_cast<int64_t>(i);
  const auto n = static_cast<int64_t>(data.size());
  ThreadPool& p = pool(threads);
  int64_t partial[64] = {};
  for (auto _ : state) {
    p.run([&](int thread, int n_threads) {
      partial[thread * 8] = loom::stream_read_sum(data.data(), n * thread / n_threads,
                                                  n * (thread + 1) / n_threads, prefetch);
    });
    benchmark::DoNotOptimize(partial);
  }
  state.SetBytesProcessed(state.iterations() * n * 8);
}

// Runs on `isa` for the benchmark's duration (set_isa is process-wide; benchmarks run one
// at a time).
class IsaForBenchmark {
 public:
  explicit IsaForBenchmark(loom::kernels::Isa isa) : previous_(loom::kernels::active_isa()) {
    loom::kernels::set_isa(isa);
  }
  ~IsaForBenchmark() { loom::kernels::set_isa(previous_); }

 private:
  loom::kernels::Isa previous_;
};

void run_layernorm(benchmark::State& state, loom::kernels::Isa isa, int64_t n) {
  IsaForBenchmark scoped(isa);
  const std::vector<float> x = activations(n);
  const std::vector<float> weight = activations(n);
  const std::vector<float> bias = activations(n);
  std::vector<float> out(n);
  for (auto _ : state) {
    loom::kernels::layernorm(x.data(), weight.data(), bias.data(), n, 1e-5f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(sizeof(float)));
}

// In place, over and over: after the first pass the row holds gelu(x), whose values take
// the same (table) path as x's.
void run_gelu(benchmark::State& state, loom::kernels::Isa isa, int64_t n) {
  IsaForBenchmark scoped(isa);
  std::vector<float> x = activations(n);
  for (auto _ : state) {
    loom::kernels::gelu(x.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(sizeof(float)));
}

void run_attention(benchmark::State& state, loom::kernels::Isa isa, int64_t n_kv) {
  IsaForBenchmark scoped(isa);
  constexpr int64_t kHeads = 8, kHeadDim = 64, kKvHeads = 4;
  const int64_t row = kKvHeads * kHeadDim;
  const std::vector<float> q = activations(kHeads * kHeadDim);
  const std::vector<float> rows = activations(n_kv * row);
  std::vector<uint8_t> keys(n_kv * row * 2), values(n_kv * row * 2);
  loom::kernels::quantize_row(DType::F16, rows.data(), keys.data(), n_kv * row);
  loom::kernels::quantize_row(DType::F16, rows.data(), values.data(), n_kv * row);
  const int32_t block = 0;
  loom::kernels::KvView view{.keys = keys.data(),
                             .values = values.data(),
                             .blocks = &block,
                             .block_size = n_kv,
                             .block_stride = 0,
                             .type = DType::F16,
                             .row_stride = row,
                             .offset = kHeadDim};
  const std::vector<loom::kernels::AttentionParams> params(kHeads, {.scale = 0.125f});
  std::vector<float> out(kHeads * kHeadDim);
  for (auto _ : state) {
    loom::kernels::attend_heads(q.data(), kHeadDim, kHeads, view, n_kv, kHeadDim, params.data(),
                                out.data(), kHeadDim);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["keys"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kHeads * n_kv), benchmark::Counter::kIsRate);
}

void register_all() {
  using loom::kernels::Isa;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!loom::kernels::cpu_supports(isa)) continue;
    const std::string suffix = "/isa:" + std::string(loom::kernels::isa_name(isa));
    // Phi-2's rows: 2560 (hidden) and 10240 (feed-forward).
    benchmark::RegisterBenchmark(("layernorm/2560" + suffix).c_str(), run_layernorm, isa, 2560)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("gelu/10240" + suffix).c_str(), run_gelu, isa, 10240)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("attention/F16/kv512" + suffix).c_str(), run_attention, isa, 512)
        ->Unit(benchmark::kMicrosecond);
  }
  for (int threads : {1, 2}) {
    for (bool prefetch : {false, true}) {
      const std::string name =
          std::string(prefetch ? "read_bandwidth/prefetch" : "read_bandwidth") +
          "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), read_bandwidth, threads, prefetch)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (DType type : {DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    for (const MatrixShape& shape : kShapes) {
      for (int threads : {1, 2}) {
        for (bool cold : {false, true}) {
          const std::string name = "matvec/" + std::string(loom::dtype_name(type)) + "/" +
                                   shape.name + (cold ? "/cold" : "/hot") +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), run_matmul, type, shape, 1, threads, cold)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K,
                     DType::Q5_K, DType::Q6_K}) {
    for (const MatrixShape& shape : kShapes) {
      for (int threads : {1, 2}) {
        const std::string name = "matmul64/" + std::string(loom::dtype_name(type)) + "/" +
                                 shape.name + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), run_matmul, type, shape, 64, threads, false)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("kernels_isa",
                              std::string(loom::kernels::isa_name(loom::kernels::active_isa())));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
