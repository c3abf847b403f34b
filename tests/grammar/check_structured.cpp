// check_structured: samples every schema (tests/grammar/data/schemas/*.json) and every
// GBNF grammar (data/gbnf/*.gbnf) on a model through the public API at temperature 1.0
// (no truncation), each sample with its own seed, and checks every reply that ended with
// an independent validator: python3-jsonschema (data/validate.py) for schemas, Python
// parsers (data/check_gbnf.py) for the grammars. Replies cut by --max-tokens are counted
// apart, never as validated (random-weight benchmark models write long strings).
//
//   check_structured --model M.gguf --data tests/grammar/data [--samples 4] [--max-tokens 256]
//                    [--seed 1] [--threads 2] [--only SUBSTRING] [--min-complete 1] [--keep DIR]
//
// Exit status 0 when every ended reply validates and at least --min-complete replies
// ended; 1 otherwise; 2 for bad arguments. scripts/check-structured.sh wraps it.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string model;
  std::string data;
  std::string only;
  std::string keep;
  std::string python = "/usr/bin/python3";
  int samples = 4;
  int64_t max_tokens = 256;
  uint64_t seed = 1;
  int threads = 0;
  int min_complete = 1;
};

struct Counts {
  int complete = 0;  // ended by end-of-generation: parsed and validated
  int valid = 0;
  int cut = 0;  // hit max_tokens
  int64_t tokens = 0;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "check_structured: %s\nusage: check_structured --model M.gguf --data DIR "
               "[--samples N] [--max-tokens N] [--seed N] [--threads N] [--only SUBSTRING] "
               "[--min-complete N] [--keep DIR] [--python PATH]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage("missing value after " + arg);
    const std::string value = argv[++i];
    try {
      if (arg == "--model") {
        o.model = value;
      } else if (arg == "--data") {
        o.data = value;
      } else if (arg == "--only") {
        o.only = value;
      } else if (arg == "--keep") {
        o.keep = value;
      } else if (arg == "--python") {
        o.python = value;
      } else if (arg == "--samples") {
        o.samples = std::stoi(value);
      } else if (arg == "--max-tokens") {
        o.max_tokens = std::stoll(value);
      } else if (arg == "--seed") {
        o.seed = std::stoull(value);
      } else if (arg == "--threads") {
        o.threads = std::stoi(value);
      } else if (arg == "--min-complete") {
        o.min_complete = std::stoi(value);
      } else {
        usage("unknown option " + arg);
      }
    } catch (const std::logic_error&) {
      usage("bad number '" + value + "' for " + arg);
    }
  }
  if (o.model.empty() || o.data.empty()) usage("--model and --data are required");
  if (o.samples < 1 || o.max_tokens < 1) usage("--samples and --max-tokens must be >= 1");
  return o;
}

// Runs the validator on the samples file; its report goes to the log. True when it passes.
bool validate(const std::string& command, const fs::path& log, std::string& report) {
  const int status = std::system((command + " > '" + log.string() + "' 2>&1").c_str());
  report = read_file(log);
  return status == 0;
}

// Samples one constraint (a schema or a grammar) and validates the ended replies.
Counts check_one(loom::Engine& engine, const Options& o, const fs::path& file, uint64_t seed,
                 const fs::path& work) {
  const bool is_schema = file.extension() == ".json";
  loom::Request r;
  r.prompt = is_schema ? "Reply with JSON:" : "Once upon a time";
  r.max_tokens = o.max_tokens;
  r.n = o.samples;
  r.sampling.temperature = 1.0f;
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0f;
  r.sampling.min_p = 0.0f;
  r.sampling.seed = seed;  // sample i draws with seed + i
  if (is_schema) {
    r.json_schema = read_file(file);
    r.json_schema_strict = file.filename().string().find("strict") != std::string::npos;
  } else {
    r.grammar = read_file(file);
  }
  const loom::Completion c = engine.generate(r);

  Counts counts;
  const fs::path samples = work / (file.stem().string() + ".samples");
  std::ofstream out(samples);
  std::vector<std::string> not_json;
  for (const loom::Choice& choice : c.choices) {
    counts.tokens += static_cast<int64_t>(choice.tokens.size());
    if (choice.finish_reason != loom::FinishReason::kStop) {
      ++counts.cut;
      continue;
    }
    ++counts.complete;
    if (is_schema && !nlohmann::json::accept(choice.text)) not_json.push_back(choice.text);
    out << nlohmann::json(choice.text).dump() << "\n";
  }
  out.close();
  if (counts.complete == 0) return counts;

  const std::string data = fs::path(o.data).string();
  const std::string command = is_schema ? o.python + " '" + data + "/validate.py' '" +
                                              file.string() + "' '" + samples.string() + "'"
                                        : o.python + " '" + data + "/check_gbnf.py' " +
                                              file.stem().string() + " '" + samples.string() + "'";
  std::string report;
  const bool passed = validate(command, work / (file.stem().string() + ".log"), report);
  counts.valid = passed && not_json.empty() ? counts.complete : 0;
  if (!passed || !not_json.empty()) {
    std::printf("FAIL %s (seeds %llu..%llu):\n%s", file.filename().string().c_str(),
                static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(seed + o.samples - 1), report.c_str());
    for (const std::string& text : not_json) std::printf("  not JSON: %s\n", text.c_str());
  }
  return counts;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<fs::path> files;
  for (const char* sub : {"schemas", "gbnf"}) {
    const fs::path dir = fs::path(o.data) / sub;
    if (!fs::is_directory(dir)) usage(dir.string() + " is not a directory");
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string ext = e.path().extension().string();
      if ((ext == ".json" || ext == ".gbnf") &&
          e.path().filename().string().find(o.only) != std::string::npos) {
        files.push_back(e.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) usage("no schema or grammar matches --only " + o.only);

  const fs::path work = o.keep.empty() ? fs::temp_directory_path() /
                                             ("loom_check_structured_" + std::to_string(getpid()))
                                       : fs::path(o.keep);
  fs::create_directories(work);
  try {
    const auto model = loom::Model::load(o.model);
    loom::Engine engine(model, {.threads = o.threads,
                                .context = std::min<int64_t>(model->info().n_ctx_train, 4096),
                                .max_sequences = o.samples});
    const auto start = std::chrono::steady_clock::now();
    std::printf(
        "%s: %lld-token vocabulary, %d samples per constraint at temperature 1.0, "
        "max_tokens %lld\n",
        o.model.c_str(), static_cast<long long>(model->n_vocab()), o.samples,
        static_cast<long long>(o.max_tokens));
    std::printf("%-36s %8s %8s %8s %8s\n", "constraint", "ended", "valid", "cut", "tokens");
    Counts schemas, grammars;
    for (size_t i = 0; i < files.size(); ++i) {
      const uint64_t seed = o.seed + 1000 * static_cast<uint64_t>(i);
      const Counts c = check_one(engine, o, files[i], seed, work);
      Counts& total = files[i].extension() == ".json" ? schemas : grammars;
      total.complete += c.complete;
      total.valid += c.valid;
      total.cut += c.cut;
      total.tokens += c.tokens;
      std::printf("%-36s %8d %8d %8d %8lld\n", files[i].filename().string().c_str(), c.complete,
                  c.valid, c.cut, static_cast<long long>(c.tokens));
      std::fflush(stdout);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "schemas: %d replies ended, %d validated, %d cut by max_tokens; grammars: %d ended, "
        "%d parsed, %d cut; %lld tokens in %.1f s\n",
        schemas.complete, schemas.valid, schemas.cut, grammars.complete, grammars.valid,
        grammars.cut, static_cast<long long>(schemas.tokens + grammars.tokens), seconds);
    if (o.keep.empty()) fs::remove_all(work);
    const int complete = schemas.complete + grammars.complete;
    const int valid = schemas.valid + grammars.valid;
    if (valid != complete) {
      std::printf("FAILED: %d ended replies did not validate\n", complete - valid);
      return 1;
    }
    if (complete < o.min_complete) {
      std::printf("FAILED: only %d replies ended (--min-complete %d)\n", complete, o.min_complete);
      return 1;
    }
    return 0;
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "check_structured: %s\n", e.what());
    if (o.keep.empty()) fs::remove_all(work);
    return 1;
  }
}
