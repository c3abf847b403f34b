// `loom synth`: write a benchmark model with random weights at a real model's shape.
#include <fmt/core.h>

#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "loom/synth.h"

namespace loom::cli {

Command add_synth(CLI::App& app) {
  auto options = std::make_shared<SynthOptions>();
  std::string shapes;
  for (const auto& [name, description] : synth_shapes()) {
    shapes += "\n  " + name + ": " + description;
  }
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a GGUF benchmark model with random weights at a real model's shape");
  cmd->footer("Shapes:" + shapes);
  cmd->add_option("--shape", options->shape, "Model shape")->capture_default_str();
  cmd->add_option("--type", options->type, "Weight type: f32, f16, bf16, q8_0, q4_0")
      ->capture_default_str();
  cmd->add_option(
         "--tokenizer", options->tokenizer_path,
         "A GGUF file whose tokenizer is copied (e.g. a ggml-vocab-*.gguf), or a Hugging Face "
         "tokenizer.json (byte-level BPE, Llama 3 pre-tokenizer) written as GGUF metadata")
      ->required();
  cmd->add_option("-o,--output", options->output_path, "Output GGUF file")->required();
  cmd->add_option("--seed", options->seed, "Random seed of the weights")->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "Threads; 0 = one per core");
  cmd->add_option("--layers", options->n_layer,
                  "Write only the first N layers (at the shape's real widths); 0 = all")
      ->capture_default_str();
  return [options] {
    Progress progress("writing " + options->output_path);
    synthesize_model(*options,
                     [&](uint64_t done, uint64_t total) { progress.update(done, total); });
    progress.finish();
    fmt::print(stderr, "loom: wrote {}\n", options->output_path);
    return 0;
  };
}

}  // namespace loom::cli
