// `loom quantize IN.gguf OUT.gguf TYPE`: re-encode a model's weights as llama-quantize
// does (Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K), with a progress bar on stderr.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/progress.h"
#include "loom/error.h"
#include "loom/quantize.h"

namespace loom::cli {
namespace {

struct QuantizeArgs {
  std::string input;
  std::string output;
  std::string type;
  int threads = 0;
};

int run(const QuantizeArgs& a) {
  QuantizeOptions options;
  options.input_path = a.input;
  options.output_path = a.output;
  options.type = a.type;
  options.threads = a.threads;
  Progress progress("quantizing " + a.input);
  const QuantizeResult r =
      quantize_model(options, [&](uint64_t done, uint64_t total) { progress.update(done, total); });
  progress.finish();
  std::string types;
  for (const auto& [name, count] : r.tensors_by_type) {
    types += fmt::format("{}{} x {}", types.empty() ? "" : ", ", count, name);
  }
  fmt::print("{}: {} tensors ({}), {} re-encoded; {:.2f} MiB -> {:.2f} MiB\n", a.output,
             r.n_tensors, types, r.n_quantized, static_cast<double>(r.input_bytes) / 1048576.0,
             static_cast<double>(r.output_bytes) / 1048576.0);
  return 0;
}

}  // namespace

Command add_quantize(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Re-encode a model's weights: Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K");
  cmd->add_option("input", args->input, "Input GGUF model")->required();
  cmd->add_option("output", args->output, "Output GGUF model")->required();
  cmd->add_option("type", args->type, "Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K")->required();
  cmd->add_option("-t,--threads", args->threads, "Threads; 0 = one per core")
      ->capture_default_str();
  return [args] { return run(*args); };
}

}  // namespace loom::cli
