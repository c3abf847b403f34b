// `loom run`: generate from a prompt, streaming the text to stdout as it is produced and
// a summary (or, with --json, one JSON object) at the end.
#include <fmt/core.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "loom/error.h"
#include "loom/loom.h"

namespace loom::cli {
namespace {

struct RunArgs {
  std::string model_path;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  int64_t seed = -1;
  int threads = 0;
  int64_t context = 0;
  int64_t batch = 512;
  std::string kv_type = "f16";
  bool ignore_eos = false;
  bool json = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open prompt file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int run(const RunArgs& a) {
  if (a.prompt.empty() == a.prompt_file.empty()) {
    throw Error("give the prompt with exactly one of -p TEXT or -f FILE");
  }
  const std::shared_ptr<Model> model = Model::load(a.model_path);
  EngineOptions engine_options;
  engine_options.threads = a.threads;
  engine_options.context = a.context;
  engine_options.batch_tokens = a.batch;
  engine_options.kv_type = a.kv_type;
  Engine engine(model, engine_options);

  Request request;
  request.prompt = a.prompt.empty() ? read_file(a.prompt_file) : a.prompt;
  request.max_tokens = a.n_predict;
  request.ignore_eos = a.ignore_eos;
  request.sampling.temperature = a.temperature;
  request.sampling.top_k = a.top_k;
  request.sampling.top_p = a.top_p;
  request.sampling.min_p = a.min_p;
  if (a.seed >= 0) request.sampling.seed = static_cast<uint64_t>(a.seed);

  const Completion result = engine.generate(request, [&](const TokenEvent& event) {
    if (a.json || event.text.empty()) return;
    std::fwrite(event.text.data(), 1, event.text.size(), stdout);
    std::fflush(stdout);
  });
  const Timings& t = result.timings;
  const int64_t peak = loom::peak_memory_bytes();
  if (a.json) {
    nlohmann::json out = {
        {"text", result.text},
        {"tokens", result.tokens},
        {"finish_reason", to_string(result.finish_reason)},
        {"seed", result.seed},
        {"timings",
         {{"prompt_tokens", t.prompt_tokens},
          {"generated_tokens", t.generated_tokens},
          {"time_to_first_token_ms", t.time_to_first_token_s * 1e3},
          {"prefill_tokens_per_s", t.prefill_tokens_per_s},
          {"decode_tokens_per_s", t.decode_tokens_per_s},
          {"time_per_output_token_ms",
           t.decode_tokens_per_s > 0 ? 1e3 / t.decode_tokens_per_s : 0.0},
          {"prefill_steps", t.prefill_steps},
          {"threads", engine.threads()},
          {"context", engine.context()},
          {"peak_memory_bytes", peak}}},
    };
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("\n");
  std::fflush(stdout);
  fmt::print(stderr,
             "\nloom: prompt {} tokens, time to first token {:.1f} ms, prefill {:.1f} tokens/s\n"
             "loom: generated {} tokens ({}), decode {:.1f} tokens/s, {:.2f} ms per token\n"
             "loom: {} threads, context {}, seed {}, peak memory {:.1f} MiB\n",
             t.prompt_tokens, t.time_to_first_token_s * 1e3, t.prefill_tokens_per_s,
             t.generated_tokens, to_string(result.finish_reason), t.decode_tokens_per_s,
             t.decode_tokens_per_s > 0 ? 1e3 / t.decode_tokens_per_s : 0.0, engine.threads(),
             engine.context(), result.seed, static_cast<double>(peak) / (1 << 20));
  return 0;
}

}  // namespace

Command add_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  cmd->add_option("-m,--model", args->model_path, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text");
  cmd->add_option("-f,--file", args->prompt_file,
                  "Read the prompt from a file (bytes as they are)");
  cmd->add_option("-n,--n-predict", args->n_predict, "Most tokens to generate")
      ->capture_default_str();
  cmd->add_option("--temp", args->temperature, "Temperature; 0 is greedy")->capture_default_str();
  cmd->add_option("--top-k", args->top_k, "Top-k; 0 turns it off")->capture_default_str();
  cmd->add_option("--top-p", args->top_p, "Top-p (nucleus); 1 turns it off")->capture_default_str();
  cmd->add_option("--min-p", args->min_p, "Min-p; 0 turns it off")->capture_default_str();
  cmd->add_option("-s,--seed", args->seed, "Random seed; -1 picks one (and reports it)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads; 0 = one per core")
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size", args->context,
                  "Context size in tokens; 0 = the model's, at most 4096")
      ->capture_default_str();
  cmd->add_option("-b,--batch-size", args->batch, "Most prompt tokens computed per step")
      ->capture_default_str();
  cmd->add_option("--kv-type", args->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->add_flag("--ignore-eos", args->ignore_eos, "Keep generating past end-of-sequence tokens");
  cmd->add_flag("--json", args->json,
                "Print one JSON object (text, token ids, finish reason, timings) instead");
  return [args] { return run(*args); };
}

}  // namespace loom::cli
