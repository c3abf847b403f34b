// `loom perplexity`: perplexity of a model on a text file, computed as llama.cpp does.
#include <fmt/core.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "loom/error.h"
#include "loom/loom.h"

namespace loom::cli {
namespace {

struct PerplexityArgs {
  std::string model_path;
  std::string text_path;
  int64_t chunk = 512;
  int threads = 0;
  std::string kv_type = "f16";
};

int run(const PerplexityArgs& a) {
  std::ifstream in(a.text_path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open text file '{}'", a.text_path));
  std::ostringstream text;
  text << in.rdbuf();

  const std::shared_ptr<Model> model = Model::load(a.model_path);
  EngineOptions options;
  options.threads = a.threads;
  options.context = a.chunk;
  options.batch_tokens = a.chunk;
  options.kv_type = a.kv_type;
  Engine engine(model, options);
  PerplexityOptions ppl_options;
  ppl_options.chunk = a.chunk;
  const PerplexityResult r = perplexity(
      engine, *model, text.str(), ppl_options,
      [](int64_t done, int64_t total) { fmt::print(stderr, "\rloom: chunk {}/{}", done, total); });
  fmt::print(stderr, "\n");
  fmt::print("perplexity: {:.4f} ({} chunks of {} tokens, {} tokens scored, {:.2f} s)\n",
             r.perplexity, r.n_chunks, a.chunk, r.n_scored, r.seconds);
  return 0;
}

}  // namespace

Command add_perplexity(CLI::App& app) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity on a text file (chunks from an empty cache, second halves scored)");
  cmd->add_option("-m,--model", args->model_path, "GGUF model file")->required();
  cmd->add_option("-f,--file", args->text_path, "Text file")->required();
  cmd->add_option("-c,--ctx-size", args->chunk, "Tokens per chunk")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads; 0 = one per core")
      ->capture_default_str();
  cmd->add_option("--kv-type", args->kv_type, "KV cache type: f16, f32 or q8_0")
      ->capture_default_str();
  return [args] { return run(*args); };
}

}  // namespace loom::cli
