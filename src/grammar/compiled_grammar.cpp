#include "grammar/compiled_grammar.h"

#include <list>
#include <unordered_map>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_vocab_cache.h"

namespace loom::grammar {
namespace {

// The most recently used compiled grammars, by text.
constexpr size_t kMaxCachedGrammars = 32;

struct GrammarCache {
  std::mutex mutex;
  std::list<std::shared_ptr<const CompiledGrammar>> lru;  // most recent first
  std::unordered_map<std::string_view, std::list<std::shared_ptr<const CompiledGrammar>>::iterator>
      by_text;  // keys view into the grammars' source()
};

GrammarCache& grammar_cache() {
  static GrammarCache cache;
  return cache;
}

}  // namespace

CompiledGrammar::CompiledGrammar(std::string source, Grammar grammar)
    : source_(std::move(source)), grammar_(std::move(grammar)) {}

std::shared_ptr<GrammarVocabCache> CompiledGrammar::vocab_cache(
    const std::shared_ptr<const GrammarVocabulary>& vocab) const {
  std::lock_guard lock(mutex_);
  for (const auto& cache : caches_) {
    if (cache->vocab().get() == vocab.get()) return cache;
  }
  caches_.push_back(std::make_shared<GrammarVocabCache>(grammar_, vocab));
  return caches_.back();
}

std::shared_ptr<const CompiledGrammar> compile_gbnf(std::string_view text) {
  GrammarCache& cache = grammar_cache();
  {
    std::lock_guard lock(cache.mutex);
    const auto it = cache.by_text.find(text);
    if (it != cache.by_text.end()) {
      cache.lru.splice(cache.lru.begin(), cache.lru, it->second);
      return *it->second;
    }
  }
  auto compiled = std::make_shared<const CompiledGrammar>(std::string(text), parse_gbnf(text));
  std::lock_guard lock(cache.mutex);
  const auto it = cache.by_text.find(text);
  if (it != cache.by_text.end()) return *it->second;  // compiled meanwhile by another thread
  cache.lru.push_front(compiled);
  cache.by_text.emplace(compiled->source(), cache.lru.begin());
  if (cache.lru.size() > kMaxCachedGrammars) {
    cache.by_text.erase(cache.lru.back()->source());
    cache.lru.pop_back();
  }
  return compiled;
}

}  // namespace loom::grammar
