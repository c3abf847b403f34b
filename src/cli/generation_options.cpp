#include "cli/generation_options.h"

#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "loom/error.h"

namespace loom::cli {
namespace {

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

}  // namespace

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {} '{}'", what, path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void add_generation_options(CLI::App& cmd, GenerationArgs& a, const std::string& n_predict_help) {
  const std::string group = "Generation";
  cmd.add_option("-n,--n-predict", a.n_predict, n_predict_help)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--min-tokens", a.min_tokens, "Ban end-of-generation before this many tokens")
      ->capture_default_str()
      ->group(group);
  SamplingOptions& s = a.sampling;
  cmd.add_option("--temp", s.temperature, "Temperature; 0 is greedy")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--top-k", s.top_k, "Top-k; 0 turns it off")->capture_default_str()->group(group);
  cmd.add_option("--top-p", s.top_p, "Top-p (nucleus); 1 turns it off")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--min-p", s.min_p, "Min-p; 0 turns it off")->capture_default_str()->group(group);
  cmd.add_option("--typical-p", s.typical_p, "Locally typical sampling; 1 turns it off")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--repeat-penalty", s.repetition_penalty,
                 "Repetition penalty over the last --repeat-last-n tokens; 1 turns it off")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--repeat-last-n", s.repeat_last_n, "Window of the repetition penalty; -1 = all")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--presence-penalty", s.presence_penalty, "OpenAI presence penalty [-2, 2]")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--frequency-penalty", s.frequency_penalty, "OpenAI frequency penalty [-2, 2]")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--logit-bias", a.logit_bias, "TOKEN_ID=BIAS (repeatable); -100 bans a token")
      ->group(group);
  cmd.add_option("-s,--seed", a.seed, "Random seed; -1 picks one (and reports it)")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--stop", a.stop, "Stop string (repeatable); not included in the output")
      ->group(group);
  cmd.add_option("--stop-token", a.stop_tokens, "Stop token id (repeatable)")->group(group);
  cmd.add_flag("--ignore-eos", a.ignore_eos, "Keep generating past end-of-sequence tokens")
      ->group(group);
  cmd.add_option("--grammar", a.grammar, "Constrain the output to a GBNF grammar")->group(group);
  cmd.add_option("--grammar-file", a.grammar_file, "Read the GBNF grammar from a file")
      ->group(group);
  cmd.add_option("--json-schema", a.json_schema,
                 "Constrain the output to a JSON Schema (the schema, or @FILE)")
      ->group(group);
  cmd.add_flag("--json-object", a.json_object, "JSON mode: the output is a JSON object")
      ->group(group);
}

void add_choice_options(CLI::App& cmd, ChoiceArgs& a) {
  const std::string group = "Completions";
  cmd.add_option("--n", a.n, "Completions to return (sharing one prefill)")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--best-of", a.best_of, "Sample this many, return the --n best by mean logprob")
      ->group(group);
  cmd.add_option("--beams", a.beams, "Beam search with this many beams")->group(group);
  cmd.add_option("--length-penalty", a.length_penalty, "Beam score = logprob / length^this")
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--early-stopping", a.early_stopping, "End beam search once enough beams finished")
      ->group(group);
  cmd.add_option("--logprobs", a.logprobs, "Report logprobs with this many alternatives (0-20)")
      ->group(group);
}

void add_engine_options(CLI::App& cmd, EngineArgs& a) {
  cmd.add_option("-m,--model", a.model_path, "GGUF model file")->required();
  const std::string group = "Engine";
  cmd.add_option("-t,--threads", a.threads, "Threads; 0 = one per core")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("-c,--ctx-size", a.context,
                 "Context size in tokens; 0 = the model's, at most 4096")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("-b,--batch-size", a.batch, "Most prompt tokens computed per step")
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--mlock", a.mlock,
               "Lock the weights in memory so they are never paged out (may need ulimit -l)")
      ->group(group);
  cmd.add_option("--kv-type", a.kv_type, "KV cache type: f16, f32 or q8_0")
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--no-prefix-cache", a.no_prefix_cache,
               "Compute every prompt in full (by default a prompt that starts like an earlier "
               "one, e.g. the conversation so far, reuses its KV cache)")
      ->group(group);
  cmd.add_option("--draft", a.draft,
                 "Speculative decoding: 'ngram' drafts tokens from the prompt and the output so "
                 "far and verifies them in one step (the output is unchanged)")
      ->check(CLI::IsMember({"none", "ngram"}))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--draft-max", a.draft_max, "Most draft tokens verified per step")
      ->check(CLI::Range(1, 64))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--draft-min", a.draft_min,
                 "Fewest tokens per draft; 0 lets loom choose each draft's length from the "
                 "acceptance rate and measured step times, so drafting never slows decoding")
      ->check(CLI::Range(0, 64))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--model-draft,--md", a.model_draft,
                 "Speculative decoding with a small draft model of the same vocabulary (e.g. a "
                 "smaller model of the family, or a Q4_0 copy of a Q8_0 model); sampled replies "
                 "keep the model's distribution, greedy ones are unchanged")
      ->check(CLI::ExistingFile)
      ->group(group);
}

Request to_request(const GenerationArgs& a) {
  Request request;
  request.max_tokens = a.n_predict;
  request.min_tokens = a.min_tokens;
  request.ignore_eos = a.ignore_eos;
  request.sampling = a.sampling;
  request.sampling.logit_bias = parse_logit_bias(a.logit_bias);
  if (a.seed >= 0) request.sampling.seed = static_cast<uint64_t>(a.seed);
  request.stop = a.stop;
  request.stop_tokens = a.stop_tokens;
  if (!a.grammar.empty() && !a.grammar_file.empty()) {
    throw Error("give the grammar with one of --grammar and --grammar-file, not both");
  }
  request.grammar =
      a.grammar_file.empty() ? a.grammar : read_text_file(a.grammar_file, "grammar file");
  request.json_schema = a.json_schema.rfind('@', 0) == 0
                            ? read_text_file(a.json_schema.substr(1), "JSON schema file")
                            : a.json_schema;
  request.json_object = a.json_object;
  return request;
}

void apply_choices(const ChoiceArgs& a, Request& request) {
  request.n = a.n;
  request.best_of = a.best_of;
  request.num_beams = a.beams;
  request.length_penalty = a.length_penalty;
  request.early_stopping = a.early_stopping;
  request.logprobs = a.logprobs;
}

EngineOptions to_engine_options(const EngineArgs& a) {
  EngineOptions options;
  options.threads = a.threads;
  options.context = a.context;
  options.batch_tokens = a.batch;
  options.kv_type = a.kv_type;
  options.prefix_cache = !a.no_prefix_cache;
  options.draft_max = a.draft_max;
  options.draft_min = a.draft_min;
  if (!a.model_draft.empty()) {
    if (a.draft != "none") {
      throw Error("give one of --draft ngram and --model-draft, not both");
    }
    options.draft_model = Model::load(a.model_draft, {.mlock = a.mlock});
  } else {
    options.draft = a.draft;
  }
  return options;
}

}  // namespace loom::cli
