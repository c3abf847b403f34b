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
  bool mlock = false;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  int64_t min_tokens = 0;
  SamplingOptions sampling;
  int64_t seed = -1;
  std::vector<std::string> logit_bias;  // ID=BIAS
  std::vector<std::string> stop;
  std::vector<int32_t> stop_tokens;
  int32_t n = 1;
  int32_t best_of = 0;
  int32_t beams = 0;
  float length_penalty = 1.0f;
  bool early_stopping = false;
  int32_t logprobs = -1;
  int threads = 0;
  int64_t context = 0;
  int64_t batch = 512;
  std::string kv_type = "f16";
  bool ignore_eos = false;
  bool json = false;
  std::string grammar;
  std::string grammar_file;
  std::string json_schema;  // text, or @FILE
  bool json_object = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open prompt file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::map<int32_t, float> parse_logit_bias(const std::vector<std::string>& items) {
  std::map<int32_t, float> bias;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    try {
      if (eq == std::string::npos) throw std::invalid_argument("no '='");
      size_t used = 0;
      const int32_t id = std::stoi(item.substr(0, eq), &used);
      if (used != eq) throw std::invalid_argument("id");
      const std::string value = item.substr(eq + 1);
      const float b = std::stof(value, &used);
      if (used != value.size()) throw std::invalid_argument("bias");
      bias[id] = b;
    } catch (const std::exception&) {
      throw Error(
          fmt::format("--logit-bias '{}' must look like TOKEN_ID=BIAS, e.g. 15043=-100", item));
    }
  }
  return bias;
}

nlohmann::json logprobs_json(const std::vector<TokenLogprob>& logprobs) {
  nlohmann::json out = nlohmann::json::array();
  for (const TokenLogprob& t : logprobs) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, lp] : t.top) top.push_back({{"token", id}, {"logprob", lp}});
    out.push_back({{"token", t.token}, {"bytes", t.bytes}, {"logprob", t.logprob}, {"top", top}});
  }
  return out;
}

int run(RunArgs a) {
  if (a.prompt.empty() == a.prompt_file.empty()) {
    throw Error("give the prompt with exactly one of -p TEXT or -f FILE");
  }
  const std::shared_ptr<Model> model = Model::load(a.model_path, {.mlock = a.mlock});
  EngineOptions engine_options;
  engine_options.threads = a.threads;
  engine_options.context = a.context;
  engine_options.batch_tokens = a.batch;
  engine_options.kv_type = a.kv_type;
  engine_options.max_sequences = std::max({a.n, a.best_of, a.beams, 1});
  Engine engine(model, engine_options);

  Request request;
  request.prompt = a.prompt.empty() ? read_file(a.prompt_file) : a.prompt;
  request.max_tokens = a.n_predict;
  request.min_tokens = a.min_tokens;
  request.ignore_eos = a.ignore_eos;
  request.sampling = a.sampling;
  request.sampling.logit_bias = parse_logit_bias(a.logit_bias);
  if (a.seed >= 0) request.sampling.seed = static_cast<uint64_t>(a.seed);
  request.stop = a.stop;
  request.stop_tokens = a.stop_tokens;
  request.n = a.n;
  request.best_of = a.best_of;
  request.num_beams = a.beams;
  request.length_penalty = a.length_penalty;
  request.early_stopping = a.early_stopping;
  request.logprobs = a.logprobs;
  if (!a.grammar.empty() && !a.grammar_file.empty()) {
    throw Error("give the grammar with one of --grammar and --grammar-file, not both");
  }
  request.grammar = a.grammar_file.empty() ? a.grammar : read_file(a.grammar_file);
  request.json_schema =
      a.json_schema.rfind('@', 0) == 0 ? read_file(a.json_schema.substr(1)) : a.json_schema;
  request.json_object = a.json_object;

  // Text streams only for a single completion; several are printed one after another.
  const bool stream = !a.json && a.n == 1 && a.best_of <= 1 && a.beams == 0;
  const Completion result = engine.generate(request, [&](const TokenEvent& event) {
    if (!stream || event.text.empty()) return;
    std::fwrite(event.text.data(), 1, event.text.size(), stdout);
    std::fflush(stdout);
  });
  const Timings& t = result.timings;
  const int64_t peak = loom::peak_memory_bytes();
  if (a.json) {
    nlohmann::json choices = nlohmann::json::array();
    for (const Choice& c : result.choices) {
      nlohmann::json j = {{"index", c.index},
                          {"text", c.text},
                          {"tokens", c.tokens},
                          {"finish_reason", to_string(c.finish_reason)},
                          {"cumulative_logprob", c.cumulative_logprob}};
      if (a.beams > 0) j["score"] = c.score;
      if (a.logprobs >= 0) j["logprobs"] = logprobs_json(c.logprobs);
      choices.push_back(j);
    }
    const Choice& first = result.first();
    nlohmann::json out = {
        {"text", first.text},
        {"tokens", first.tokens},
        {"finish_reason", to_string(first.finish_reason)},
        {"choices", choices},
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
          {"prompt_evaluations", t.prompt_evaluations},
          {"threads", engine.threads()},
          {"context", engine.context()},
          {"peak_memory_bytes", peak}}},
    };
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  if (!stream && result.choices.size() == 1) {
    fmt::print("{}\n", result.first().text);  // one completion (beams, best-of): the text alone
  } else if (!stream) {
    for (const Choice& c : result.choices) {
      fmt::print("--- completion {} ({}):\n{}\n", c.index, to_string(c.finish_reason), c.text);
    }
  } else {
    fmt::print("\n");
  }
  std::fflush(stdout);
  fmt::print(stderr,
             "\nloom: prompt {} tokens, time to first token {:.1f} ms, prefill {:.1f} tokens/s\n"
             "loom: generated {} tokens ({}), decode {:.1f} tokens/s, {:.2f} ms per token\n"
             "loom: {} threads, context {}, seed {}, peak memory {:.1f} MiB\n",
             t.prompt_tokens, t.time_to_first_token_s * 1e3, t.prefill_tokens_per_s,
             t.generated_tokens, to_string(result.first().finish_reason), t.decode_tokens_per_s,
             t.decode_tokens_per_s > 0 ? 1e3 / t.decode_tokens_per_s : 0.0, engine.threads(),
             engine.context(), result.seed, static_cast<double>(peak) / (1 << 20));
  if (model->info().locked_bytes > 0) {
    fmt::print(stderr, "loom: {:.1f} MiB of weights locked in memory (--mlock)\n",
               static_cast<double>(model->info().locked_bytes) / (1 << 20));
  }
  if (model->info().repacked_bytes > 0) {
    fmt::print(stderr,
               "loom: {:.1f} MiB of quantized weights were repacked at load for the SIMD kernels "
               "(the copy replaces the file's pages in memory)\n",
               static_cast<double>(model->info().repacked_bytes) / (1 << 20));
  }
  return 0;
}

}  // namespace

Command add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  cmd->add_option("-m,--model", a->model_path, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text");
  cmd->add_option("-f,--file", a->prompt_file, "Read the prompt from a file (bytes as they are)");
  cmd->add_option("-n,--n-predict", a->n_predict, "Most tokens to generate")->capture_default_str();
  cmd->add_option("--min-tokens", a->min_tokens, "Ban end-of-generation before this many tokens")
      ->capture_default_str();
  SamplingOptions& s = a->sampling;
  cmd->add_option("--temp", s.temperature, "Temperature; 0 is greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Top-k; 0 turns it off")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Top-p (nucleus); 1 turns it off")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Min-p; 0 turns it off")->capture_default_str();
  cmd->add_option("--typical-p", s.typical_p, "Locally typical sampling; 1 turns it off")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repetition_penalty,
                  "Repetition penalty over the last --repeat-last-n tokens; 1 turns it off")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "Window of the repetition penalty; -1 = all")
      ->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "OpenAI presence penalty [-2, 2]")
      ->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "OpenAI frequency penalty [-2, 2]")
      ->capture_default_str();
  cmd->add_option("--logit-bias", a->logit_bias, "TOKEN_ID=BIAS (repeatable); -100 bans a token");
  cmd->add_option("-s,--seed", a->seed, "Random seed; -1 picks one (and reports it)")
      ->capture_default_str();
  cmd->add_option("--stop", a->stop, "Stop string (repeatable); not included in the output");
  cmd->add_option("--stop-token", a->stop_tokens, "Stop token id (repeatable)");
  cmd->add_option("--n", a->n, "Completions to return (sharing one prefill)")
      ->capture_default_str();
  cmd->add_option("--best-of", a->best_of, "Sample this many, return the --n best by mean logprob");
  cmd->add_option("--beams", a->beams, "Beam search with this many beams");
  cmd->add_option("--length-penalty", a->length_penalty, "Beam score = logprob / length^this")
      ->capture_default_str();
  cmd->add_flag("--early-stopping", a->early_stopping,
                "End beam search once enough beams finished");
  cmd->add_option("--logprobs", a->logprobs, "Report logprobs with this many alternatives (0-20)");
  cmd->add_option("-t,--threads", a->threads, "Threads; 0 = one per core")->capture_default_str();
  cmd->add_option("-c,--ctx-size", a->context,
                  "Context size in tokens; 0 = the model's, at most 4096")
      ->capture_default_str();
  cmd->add_option("-b,--batch-size", a->batch, "Most prompt tokens computed per step")
      ->capture_default_str();
  cmd->add_flag("--mlock", a->mlock,
                "Lock the weights in memory so they are never paged out (may need ulimit -l)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16, f32 or q8_0")
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating past end-of-sequence tokens");
  cmd->add_option("--grammar", a->grammar, "Constrain the output to a GBNF grammar");
  cmd->add_option("--grammar-file", a->grammar_file, "Read the GBNF grammar from a file");
  cmd->add_option("--json-schema", a->json_schema,
                  "Constrain the output to a JSON Schema (the schema, or @FILE)");
  cmd->add_flag("--json-object", a->json_object,
                "JSON mode: the output is a JSON object (--json is the output format)");
  cmd->add_flag("--json", a->json,
                "Print one JSON object (completions with text, token ids, logprobs, finish "
                "reason; timings) instead");
  return [a] { return run(*a); };
}

}  // namespace loom::cli
