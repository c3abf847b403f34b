// End-to-end decode speed with a JSON Schema against unconstrained decoding, through the
// public API on one model: runs alternate (A B B A ...) so drift on a shared machine hits
// both alike; each run's decode tokens/s comes from the engine's own timings. Reports
// every run, the medians and the ratio constrained / unconstrained.
//
//   bench_structured_decode --model M.gguf --schema S.json [--tokens 64] [--rounds 6]
//                           [--threads 2] [--seed 1] [--cold]
//
// Both sides sample with llama.cpp's default chain (temperature 0.8, top-k 40, top-p 0.95,
// min-p 0.05) and the same seeds; the unconstrained side ignores end-of-generation so
// that it runs the same number of positions. The first run of each side is a warm-up
// (page cache, the grammar's vocabulary index) and is reported apart. Compiled grammars
// and their token masks are cached by content, so later constrained runs reuse the masks
// of states seen before (a server answering one schema again and again); --cold gives
// every constrained run a schema never seen (a unique "title"), so each one computes its
// masks afresh (the first request with a new schema).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace {

struct Options {
  std::string model;
  std::string schema;
  int64_t tokens = 64;
  int rounds = 6;
  int threads = 2;
  uint64_t seed = 1;
  bool cold = false;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "bench_structured_decode: %s\nusage: bench_structured_decode --model M.gguf "
               "--schema S.json [--tokens N] [--rounds N] [--threads N] [--seed N] [--cold]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--cold") {
      o.cold = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value after " + arg);
    const std::string value = argv[++i];
    try {
      if (arg == "--model") {
        o.model = value;
      } else if (arg == "--schema") {
        o.schema = value;
      } else if (arg == "--tokens") {
        o.tokens = std::stoll(value);
      } else if (arg == "--rounds") {
        o.rounds = std::stoi(value);
      } else if (arg == "--threads") {
        o.threads = std::stoi(value);
      } else if (arg == "--seed") {
        o.seed = std::stoull(value);
      } else {
        usage("unknown option " + arg);
      }
    } catch (const std::logic_error&) {
      usage("bad number '" + value + "' for " + arg);
    }
  }
  if (o.model.empty() || o.schema.empty()) usage("--model and --schema are required");
  if (o.tokens < 2 || o.rounds < 1) usage("--tokens must be >= 2 and --rounds >= 1");
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::ifstream in(o.schema);
  if (!in) usage("cannot read " + o.schema);
  std::ostringstream schema;
  schema << in.rdbuf();
  try {
    const auto model = loom::Model::load(o.model);
    loom::Engine engine(model, {.threads = o.threads, .context = 1024});
    const std::string schema_text = schema.str();
    const size_t brace = schema_text.find('{');
    if (brace == std::string::npos) usage(o.schema + " is not a JSON object");
    int n_constrained = 0;
    auto run = [&](bool constrained, uint64_t seed) {
      loom::Request r;
      r.prompt = "Reply with JSON:";
      r.max_tokens = o.tokens;
      r.sampling.seed = seed;
      if (constrained) {
        r.json_schema = schema_text;
        if (o.cold) {
          r.json_schema.insert(brace + 1,
                               "\"title\": \"run " + std::to_string(++n_constrained) + "\", ");
        }
      } else {
        r.ignore_eos = true;
      }
      const loom::Completion c = engine.generate(r);
      std::printf("  %-13s seed %-4llu %4lld tokens  %8.2f t/s  %s\n",
                  constrained ? "constrained" : "unconstrained",
                  static_cast<unsigned long long>(seed),
                  static_cast<long long>(c.timings.generated_tokens), c.timings.decode_tokens_per_s,
                  loom::to_string(c.first().finish_reason));
      std::fflush(stdout);
      return c.timings.decode_tokens_per_s;
    };
    std::printf("%s, %lld-token vocabulary, %d threads, %lld tokens per run, %s masks\n",
                o.model.c_str(), static_cast<long long>(model->n_vocab()), engine.threads(),
                static_cast<long long>(o.tokens), o.cold ? "cold" : "cached");
    std::printf("warm-up:\n");
    run(false, o.seed);
    run(true, o.seed);
    std::vector<double> plain, constrained;
    for (int round = 0; round < o.rounds; ++round) {
      std::printf("round %d:\n", round + 1);
      const uint64_t seed = o.seed + 1 + static_cast<uint64_t>(round);
      const bool constrained_first = round % 2 == 1;  // A B, B A, A B ...
      for (int side = 0; side < 2; ++side) {
        const bool with_schema = (side == 0) == constrained_first;
        (with_schema ? constrained : plain).push_back(run(with_schema, seed));
      }
    }
    const double a = median(plain), b = median(constrained);
    std::printf(
        "median decode: unconstrained %.2f t/s, constrained %.2f t/s, ratio %.3f "
        "(%.1f%% slower)\n",
        a, b, b / a, 100.0 * (1.0 - b / a));
    return 0;
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "bench_structured_decode: %s\n", e.what());
    return 1;
  }
}
