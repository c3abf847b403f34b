// The option groups that `loom run` and `loom chat` share: how to decode (sampling, stop,
// structured output), how many completions (run only), and how to run the engine. One
// definition each, so both commands (and chat's `/set`) take the same names and defaults.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom::cli {

// Decoding controls, as given on the command line (llama.cpp's names).
struct GenerationArgs {
  int64_t n_predict = 128;
  int64_t min_tokens = 0;
  SamplingOptions sampling;
  int64_t seed = -1;                    // -1: a random seed
  std::vector<std::string> logit_bias;  // ID=BIAS
  std::vector<std::string> stop;
  std::vector<int32_t> stop_tokens;
  bool ignore_eos = false;
  std::string grammar;
  std::string grammar_file;
  std::string json_schema;  // text, or @FILE
  bool json_object = false;
};

// Several completions of one prompt (`loom run`).
struct ChoiceArgs {
  int32_t n = 1;
  int32_t best_of = 0;
  int32_t beams = 0;
  float length_penalty = 1.0f;
  bool early_stopping = false;
  int32_t logprobs = -1;
};

struct EngineArgs {
  std::string model_path;
  bool mlock = false;
  int threads = 0;
  int64_t context = 0;
  int64_t batch = 512;
  std::string kv_type = "f16";
  bool no_prefix_cache = false;
  std::string draft = "none";
  int32_t draft_max = 8;
  int32_t draft_min = 0;
  std::string model_draft;  // a draft model's GGUF file
};

// Registers -n, --min-tokens, the sampling controls, --stop, --stop-token, --ignore-eos and
// the structured-output options, bound to `args` (whose values are the shown defaults).
// `n_predict_help` describes -n, whose meaning differs between run and chat.
void add_generation_options(CLI::App& cmd, GenerationArgs& args, const std::string& n_predict_help);
void add_choice_options(CLI::App& cmd, ChoiceArgs& args);
// -m/--model (required), threads, context, batch, --mlock, --kv-type, --no-prefix-cache,
// --draft, --draft-max, --draft-min, --model-draft.
void add_engine_options(CLI::App& cmd, EngineArgs& args);

// The request the arguments describe (no prompt). Reads the grammar and schema files;
// loom::Error for a file that cannot be read or a malformed --logit-bias. Ranges are
// checked by the engine when the request is submitted.
Request to_request(const GenerationArgs& args);
void apply_choices(const ChoiceArgs& args, Request& request);
// Loads the draft model when --model-draft names one.
EngineOptions to_engine_options(const EngineArgs& args);

// The whole file, bytes as they are; loom::Error naming `what` and the path otherwise.
std::string read_text_file(const std::string& path, const std::string& what);

}  // namespace loom::cli
