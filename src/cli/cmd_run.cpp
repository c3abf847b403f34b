// `loom run`: generate from a prompt, streaming the text to stdout as it is produced and
// a summary (or, with --json, one JSON object) at the end.
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "loom/error.h"
#include "loom/loom.h"

namespace loom::cli {
namespace {

struct RunArgs {
  EngineArgs engine;
  GenerationArgs generation;
  ChoiceArgs choices;
  std::string prompt;
  std::string prompt_file;
  bool json = false;
};

nlohmann::json logprobs_json(const std::vector<TokenLogprob>& logprobs) {
  nlohmann::json out = nlohmann::json::array();
  for (const TokenLogprob& t : logprobs) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, lp] : t.top) top.push_back({{"token", id}, {"logprob", lp}});
    out.push_back({{"token", t.token}, {"bytes", t.bytes}, {"logprob", t.logprob}, {"top", top}});
  }
  return out;
}

int run(const RunArgs& a) {
  if (a.prompt.empty() == a.prompt_file.empty()) {
    throw Error("give the prompt with exactly one of -p TEXT or -f FILE");
  }
  const std::shared_ptr<Model> model = Model::load(a.engine.model_path, {.mlock = a.engine.mlock});
  EngineOptions engine_options = to_engine_options(a.engine);
  const ChoiceArgs& wanted = a.choices;
  engine_options.max_sequences = std::max({wanted.n, wanted.best_of, wanted.beams, 1});
  Engine engine(model, engine_options);

  Request request = to_request(a.generation);
  apply_choices(wanted, request);
  request.prompt = a.prompt.empty() ? read_text_file(a.prompt_file, "prompt file") : a.prompt;

  // Text streams only for a single completion; several are printed one after another.
  const bool stream = !a.json && wanted.n == 1 && wanted.best_of <= 1 && wanted.beams == 0;
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
      if (wanted.beams > 0) j["score"] = c.score;
      if (wanted.logprobs >= 0) j["logprobs"] = logprobs_json(c.logprobs);
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
          {"cached_prompt_tokens", t.cached_prompt_tokens},
          {"draft_tokens", t.draft_tokens},
          {"draft_accepted", t.draft_accepted},
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
  add_engine_options(*cmd, a->engine);
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text");
  cmd->add_option("-f,--file", a->prompt_file, "Read the prompt from a file (bytes as they are)");
  cmd->add_flag("--json", a->json,
                "Print one JSON object (completions with text, token ids, logprobs, finish "
                "reason; timings) instead of the text");
  add_generation_options(*cmd, a->generation, "Most tokens to generate");
  add_choice_options(*cmd, a->choices);
  return [a] { return run(*a); };
}

}  // namespace loom::cli
