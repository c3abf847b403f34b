// `loom bench`: prompt-processing and generation speed, measured and printed the way
// llama-bench does (tests `pp<N>` and `tg<N>`, tokens/s as mean ± sd over repetitions),
// so loom's figures can be set beside the reference engine's on the same file.
//
//   pp<N>: an N-token prompt computed from an empty cache, logits of its last row only.
//   tg<N>: N tokens generated one step at a time after a one-token prompt (BOS, or one
//          word for vocabularies without BOS), greedy,
//          end of generation ignored; the time of the N single-token steps is counted.
//   tg<N> draft: the same with speculative decoding (--draft ngram or --model-draft), run
//          alternately with tg<N> so the two are measured in the same minutes; its steps
//          may compute several positions, and the acceptance rate is reported beside it.
//          --gen-prompt gives the generation a prompt of its own (e.g. a text the reply
//          copies, where n-gram drafts pay off).
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "loom/error.h"
#include "loom/loom.h"

namespace loom::cli {
namespace {

struct BenchArgs {
  std::string models;  // comma-separated paths
  std::string prompts = "512";
  std::string gens = "128";
  std::string threads = "0";
  int repetitions = 5;
  std::string output = "md";
  std::string kv_type = "f16";
  bool bandwidth = false;
  std::string draft = "none";  // "ngram": also run each tg test with n-gram drafts
  std::string model_draft;     // a draft model: also run each tg test with it
  int32_t draft_max = 8;
  int32_t draft_min = 0;
  std::string gen_prompt;  // tg tests' prompt (text, or @file); default one token
  int32_t parallel = 1;    // sequences decoding at once in the tg tests
};

struct TestResult {
  std::string model_path;
  std::string model_type;
  int64_t size_bytes = 0;
  int64_t n_params = 0;
  int threads = 0;
  std::string test;  // "pp512", "tg128"
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  std::vector<double> samples;  // tokens/s per repetition
  double mean = 0;
  double sd = 0;
  // tg tests with --bandwidth: bytes of weights read per token and the machine's read
  // bandwidth measured just before the test (bytes/s); 0 when not measured.
  int64_t weight_bytes = 0;
  double bandwidth = 0;
  // Speculative decoding: tokens proposed and kept, over every repetition.
  int64_t draft_tokens = 0;
  int64_t draft_accepted = 0;
  double weight_rate() const { return static_cast<double>(weight_bytes) * mean; }
};

std::vector<int64_t> parse_list(const std::string& text, const char* option, int64_t min_value) {
  std::vector<int64_t> values;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view item(text.data() + begin, end - begin);
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size()) {
      throw Error(fmt::format("{}: '{}' is not a comma-separated list of integers", option, text));
    }
    if (value < min_value) {
      throw Error(fmt::format("{}: {} is below the minimum {}", option, value, min_value));
    }
    values.push_back(value);
    begin = end + 1;
  }
  return values;
}

std::vector<std::string> split_paths(const std::string& text) {
  std::vector<std::string> paths;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    if (end == begin) throw Error(fmt::format("-m: empty model path in '{}'", text));
    paths.emplace_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return paths;
}

// A prompt of exactly n tokens (BOS included when the model adds one): the computed cost
// of a step does not depend on which tokens it holds, so a repeated word serves.
std::string prompt_of_length(const Model& model, int64_t n) {
  std::string text;
  int64_t count = static_cast<int64_t>(model.tokenize(text).size());
  if (count > n) throw Error(fmt::format("cannot build a prompt of {} tokens", n));
  while (count < n) {
    bool grew = false;
    // The words without a space are for SentencePiece's first word, where " the" gives
    // two pieces (the dummy prefix and the word's own space) and so skips a length.
    for (const char* word : {" the", " a", " of", " x", ".", "the", "a", "x"}) {
      std::string longer = text + word;
      const int64_t longer_count = static_cast<int64_t>(model.tokenize(longer).size());
      if (longer_count > count && longer_count <= n) {
        text = std::move(longer);
        count = longer_count;
        grew = true;
        break;
      }
    }
    if (!grew) break;
  }
  if (count != n) throw Error(fmt::format("cannot build a prompt of exactly {} tokens", n));
  return text;
}

std::string format_params(int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f} B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  return fmt::format("{:.2f} K", static_cast<double>(n) / 1e3);
}

// The model's description as llama-bench's model_type column gives it: architecture and
// parameter count (the weight type is in the file name).
std::string model_type(const ModelInfo& info) {
  return fmt::format("{} {}", info.architecture, format_params(info.n_params));
}

void finish(TestResult& r) {
  const double n = static_cast<double>(r.samples.size());
  double sum = 0;
  for (double s : r.samples) sum += s;
  r.mean = sum / n;
  double var = 0;
  for (double s : r.samples) var += (s - r.mean) * (s - r.mean);
  r.sd = r.samples.size() > 1 ? std::sqrt(var / (n - 1)) : 0.0;
}

// A greedy request for `max_tokens` tokens that ignores end-of-sequence.
Request greedy_request(const std::string& prompt, int64_t max_tokens) {
  Request req;
  req.prompt = prompt;
  req.max_tokens = max_tokens;
  req.ignore_eos = true;
  req.sampling.temperature = 0;
  return req;
}

double run_prompt(Engine& engine, const std::string& prompt) {
  return engine.generate(greedy_request(prompt, 1)).timings.prefill_tokens_per_s;
}

// `prompt` is a one-token prompt (BOS, or a word for vocabularies without one) unless
// --gen-prompt gave one.
Timings run_gen(Engine& engine, const std::string& prompt, int64_t n_gen) {
  // The first token comes from the prompt step.
  return engine.generate(greedy_request(prompt, n_gen + 1)).timings;
}

// n_seq requests of n_gen tokens each, started together so their decode steps batch:
// tokens generated by all of them over the wall time of the whole run (their one-token
// prompts included, which makes the figure a little conservative).
double run_gen_parallel(Engine& engine, const std::string& prompt, int64_t n_gen, int n_seq) {
  std::vector<std::thread> threads;
  std::vector<int64_t> tokens(static_cast<size_t>(n_seq));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n_seq; ++i) {
    threads.emplace_back([&, i] {
      tokens[static_cast<size_t>(i)] =
          engine.generate(greedy_request(prompt, n_gen)).timings.generated_tokens;
    });
  }
  for (std::thread& t : threads) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t total = 0;
  for (int64_t n : tokens) total += n;
  return static_cast<double>(total) / s;
}

std::string format_size(int64_t bytes) {
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  if (mib >= 1024.0) return fmt::format("{:.2f} GiB", mib / 1024.0);
  return fmt::format("{:.2f} MiB", mib);
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void print_md(const std::vector<TestResult>& results) {
  std::vector<std::string> head = {"model", "size", "params", "threads", "test", "t/s"};
  const bool bandwidth = std::any_of(results.begin(), results.end(),
                                     [](const TestResult& r) { return r.bandwidth > 0; });
  if (bandwidth) {
    head.push_back("weights GB/s");
    head.push_back("memory GB/s");
    head.push_back("of memory");
  }
  const bool drafts = std::any_of(results.begin(), results.end(),
                                  [](const TestResult& r) { return r.draft_tokens > 0; });
  if (drafts) head.push_back("drafts kept");
  std::vector<std::vector<std::string>> rows;
  for (const TestResult& r : results) {
    rows.push_back({base_name(r.model_path), format_size(r.size_bytes), format_params(r.n_params),
                    std::to_string(r.threads), r.test,
                    fmt::format("{:.2f} ± {:.2f}", r.mean, r.sd)});
    if (drafts) {
      rows.back().push_back(r.draft_tokens > 0
                                ? fmt::format("{}/{} ({:.0f}%)", r.draft_accepted, r.draft_tokens,
                                              100.0 * static_cast<double>(r.draft_accepted) /
                                                  static_cast<double>(r.draft_tokens))
                                : "");
    }
    if (!bandwidth) continue;
    if (r.bandwidth > 0) {
      rows.back().push_back(fmt::format("{:.1f}", r.weight_rate() / 1e9));
      rows.back().push_back(fmt::format("{:.1f}", r.bandwidth / 1e9));
      rows.back().push_back(fmt::format("{:.0f}%", 100.0 * r.weight_rate() / r.bandwidth));
    } else {
      rows.back().insert(rows.back().end(), 3, "");
    }
  }
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  // "±" is two bytes but one column.
  auto columns = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], columns(row[i]));
  }
  auto cell = [&](const std::string& s, size_t i, bool right) {
    const std::string pad(width[i] - columns(s), ' ');
    return right ? pad + s : s + pad;
  };
  std::string line = "|";
  for (size_t i = 0; i < head.size(); ++i) line += " " + cell(head[i], i, i >= 1) + " |";
  fmt::print("{}\n", line);
  line = "|";
  for (size_t i = 0; i < head.size(); ++i) {
    line +=
        " " + (i >= 1 ? std::string(width[i] - 1, '-') + ":" : std::string(width[i], '-')) + " |";
  }
  fmt::print("{}\n", line);
  for (const auto& row : rows) {
    line = "|";
    for (size_t i = 0; i < row.size(); ++i) line += " " + cell(row[i], i, i >= 1) + " |";
    fmt::print("{}\n", line);
  }
}

void print_json(const std::vector<TestResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const TestResult& r : results) {
    out.push_back({{"model_filename", r.model_path},
                   {"model_type", r.model_type},
                   {"model_size", r.size_bytes},
                   {"model_n_params", r.n_params},
                   {"n_threads", r.threads},
                   {"test", r.test},
                   {"n_prompt", r.n_prompt},
                   {"n_gen", r.n_gen},
                   {"avg_ts", r.mean},
                   {"stddev_ts", r.sd},
                   {"samples_ts", r.samples}});
    if (r.draft_tokens > 0) {
      out.back()["draft_tokens"] = r.draft_tokens;
      out.back()["draft_accepted"] = r.draft_accepted;
    }
    if (r.bandwidth > 0) {
      out.back()["weight_bytes_per_token"] = r.weight_bytes;
      out.back()["read_bandwidth_bytes_per_s"] = r.bandwidth;
      out.back()["bandwidth_fraction"] = r.weight_rate() / r.bandwidth;
    }
  }
  fmt::print("{}\n", out.dump(2));
}

std::string csv_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

void print_csv(const std::vector<TestResult>& results) {
  fmt::print(
      "model_filename,model_type,model_size,model_n_params,n_threads,test,n_prompt,n_gen,"
      "avg_ts,stddev_ts\n");
  for (const TestResult& r : results) {
    fmt::print("{},{},{},{},{},{},{},{},{:.6f},{:.6f}\n", csv_quote(r.model_path),
               csv_quote(r.model_type), r.size_bytes, r.n_params, r.threads, r.test, r.n_prompt,
               r.n_gen, r.mean, r.sd);
  }
}

int run(const BenchArgs& a) {
  if (a.output != "md" && a.output != "json" && a.output != "csv") {
    throw Error(fmt::format("--output must be md, json or csv, got '{}'", a.output));
  }
  if (a.repetitions < 1) throw Error(fmt::format("-r must be >= 1, got {}", a.repetitions));
  const std::vector<std::string> paths = split_paths(a.models);
  const std::vector<int64_t> prompts = parse_list(a.prompts, "-p", 0);
  const std::vector<int64_t> gens = parse_list(a.gens, "-n", 0);
  const std::vector<int64_t> threads = parse_list(a.threads, "-t", 0);

  int64_t max_prompt = 1;
  for (int64_t p : prompts) max_prompt = std::max(max_prompt, p);
  int64_t max_gen = 1;
  for (int64_t g : gens) max_gen = std::max(max_gen, g);

  const bool drafting = a.draft != "none" || !a.model_draft.empty();
  if (a.draft != "none" && !a.model_draft.empty()) {
    throw Error("give one of --draft ngram and --model-draft, not both");
  }
  const std::shared_ptr<Model> draft_model =
      a.model_draft.empty() ? nullptr : Model::load(a.model_draft);
  if (draft_model != nullptr) draft_model->finish_loading();
  const std::string gen_prompt = a.gen_prompt.rfind('@', 0) == 0
                                     ? read_text_file(a.gen_prompt.substr(1), "--gen-prompt file")
                                     : a.gen_prompt;

  std::vector<TestResult> results;
  for (const std::string& path : paths) {
    const std::shared_ptr<Model> model = Model::load(path);
    model->finish_loading();  // measure the packed kernels, not the packing
    const ModelInfo& info = model->info();
    std::vector<std::string> prompt_texts;
    for (int64_t p : prompts) prompt_texts.push_back(p > 0 ? prompt_of_length(*model, p) : "");
    const std::string tg_prompt = gen_prompt.empty() ? prompt_of_length(*model, 1) : gen_prompt;
    const int64_t tg_prompt_tokens = static_cast<int64_t>(model->tokenize(tg_prompt).size());
    for (int64_t t : threads) {
      EngineOptions options;
      options.threads = static_cast<int>(t);
      options.context = std::max(max_prompt + 1, tg_prompt_tokens + max_gen + 2);
      options.batch_tokens = std::max(max_prompt, tg_prompt_tokens);
      options.kv_type = a.kv_type;
      options.max_sequences = a.parallel;
      // Each repetition computes its prompt, as llama-bench's do: no prefix cache.
      options.prefix_cache = false;
      Engine engine(model, options);
      std::unique_ptr<Engine> draft_engine;
      if (drafting) {
        EngineOptions with_draft = options;
        with_draft.draft = a.model_draft.empty() ? a.draft : "";
        with_draft.draft_model = draft_model;
        with_draft.draft_max = a.draft_max;
        with_draft.draft_min = a.draft_min;
        with_draft.batch_tokens = std::max<int64_t>(options.batch_tokens, a.draft_max + 1);
        draft_engine = std::make_unique<Engine>(model, with_draft);
      }
      auto make = [&](std::string test, int64_t n_prompt, int64_t n_gen) {
        TestResult r;
        r.model_path = path;
        r.model_type = model_type(info);
        r.size_bytes = info.file_bytes;
        r.n_params = info.n_params;
        r.threads = engine.threads();
        r.test = std::move(test);
        r.n_prompt = n_prompt;
        r.n_gen = n_gen;
        return r;
      };
      for (size_t i = 0; i < prompts.size(); ++i) {
        if (prompts[i] == 0) continue;
        TestResult r = make(fmt::format("pp{}", prompts[i]), prompts[i], 0);
        run_prompt(engine, prompt_texts[i]);  // warm-up: page in the weights, size buffers
        for (int rep = 0; rep < a.repetitions; ++rep) {
          r.samples.push_back(run_prompt(engine, prompt_texts[i]));
        }
        finish(r);
        fmt::print(stderr, "loom: {} {} t={}: {:.2f} t/s\n", base_name(path), r.test, r.threads,
                   r.mean);
        results.push_back(std::move(r));
      }
      for (int64_t g : gens) {
        if (g == 0) continue;
        if (a.parallel > 1) {
          TestResult r = make(fmt::format("tg{} x{}", g, a.parallel), 0, g);
          run_gen_parallel(engine, tg_prompt, 1, a.parallel);  // warm-up
          for (int rep = 0; rep < a.repetitions; ++rep) {
            r.samples.push_back(run_gen_parallel(engine, tg_prompt, g, a.parallel));
          }
          finish(r);
          fmt::print(stderr, "loom: {} {} t={}: {:.2f} t/s\n", base_name(path), r.test, r.threads,
                     r.mean);
          results.push_back(std::move(r));
          continue;
        }
        TestResult r = make(fmt::format("tg{}", g), 0, g);
        TestResult d = make(fmt::format("tg{} draft", g), 0, g);
        run_gen(engine, tg_prompt, 1);  // warm-up
        // Warm-up for the drafting engine: it also learns its step costs here.
        if (draft_engine) run_gen(*draft_engine, tg_prompt, g);
        if (a.bandwidth) {
          r.weight_bytes = info.weight_bytes;
          r.bandwidth = measure_read_bandwidth(engine.threads());
        }
        for (int rep = 0; rep < a.repetitions; ++rep) {
          r.samples.push_back(run_gen(engine, tg_prompt, g).decode_tokens_per_s);
          if (!draft_engine) continue;
          const Timings timings = run_gen(*draft_engine, tg_prompt, g);
          d.samples.push_back(timings.decode_tokens_per_s);
          d.draft_tokens += timings.draft_tokens;
          d.draft_accepted += timings.draft_accepted;
        }
        finish(r);
        fmt::print(stderr, "loom: {} {} t={}: {:.2f} t/s\n", base_name(path), r.test, r.threads,
                   r.mean);
        results.push_back(std::move(r));
        if (draft_engine) {
          finish(d);
          fmt::print(stderr, "loom: {} {} t={}: {:.2f} t/s, {} of {} drafts kept\n",
                     base_name(path), d.test, d.threads, d.mean, d.draft_accepted, d.draft_tokens);
          results.push_back(std::move(d));
        }
      }
    }
  }
  if (a.output == "md") print_md(results);
  if (a.output == "json") print_json(results);
  if (a.output == "csv") print_csv(results);
  return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Prompt-processing (ppN) and generation (tgN) speed, as llama-bench reports it");
  cmd->add_option("-m,--model", args->models, "GGUF model file(s), comma-separated")->required();
  cmd->add_option("-p,--n-prompt", args->prompts, "Prompt lengths, comma-separated; 0 = none")
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", args->gens, "Generated lengths, comma-separated; 0 = none")
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Thread counts, comma-separated; 0 = one per core")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", args->repetitions, "Repetitions of each test")
      ->capture_default_str();
  cmd->add_option("-o,--output", args->output, "Output format: md, json or csv")
      ->capture_default_str();
  cmd->add_option("--kv-type", args->kv_type, "KV cache type: f16, f32 or q8_0")
      ->capture_default_str();
  cmd->add_flag("--bandwidth", args->bandwidth,
                "Before each tgN test, measure the memory read bandwidth with the same threads "
                "and report decode as a fraction of it (weight bytes per token x tokens/s)");
  cmd->add_option("--draft", args->draft,
                  "Also run each tgN test with speculative decoding by n-gram lookup ('ngram'), "
                  "alternating with the plain test")
      ->check(CLI::IsMember({"none", "ngram"}))
      ->capture_default_str();
  cmd->add_option("--model-draft,--md", args->model_draft,
                  "Also run each tgN test with this draft model, alternating with the plain test")
      ->check(CLI::ExistingFile);
  cmd->add_option("--draft-max", args->draft_max, "Most draft tokens verified per step")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--draft-min", args->draft_min,
                  "Fewest tokens per draft (0: loom picks each draft's length)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option("--gen-prompt", args->gen_prompt,
                  "The tgN tests' prompt (text, or @FILE) instead of one token; its prefill is "
                  "not counted");
  cmd->add_option("--parallel", args->parallel,
                  "Sequences decoding at once in the tgN tests (batched decode): reports the "
                  "tokens all of them generate per second of wall time")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  return [args] { return run(*args); };
}

}  // namespace loom::cli
