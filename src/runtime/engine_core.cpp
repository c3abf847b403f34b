#include "runtime/engine_core.h"

#include <algorithm>

#include "core/error.h"
#include "model/forward_scratch.h"

namespace loom {
namespace {

int64_t context_for(const Transformer& model, const EngineCoreOptions& options) {
  if (options.context < 0) fail("context size must be positive, got {}", options.context);
  return options.context > 0 ? options.context : model.config().n_ctx_train;
}

// The default budget lets every sequence reach the full context at once, as the
// contiguous per-slot cache did; a smaller one trades that guarantee for memory.
int64_t kv_tokens_for(const EngineCoreOptions& options, int64_t context) {
  if (options.kv_tokens < 0) fail("KV cache size must be positive, got {}", options.kv_tokens);
  if (options.kv_tokens > 0) return options.kv_tokens;
  const int64_t per_sequence =
      (context + KvCache::kDefaultBlockSize - 1) / KvCache::kDefaultBlockSize;
  return std::max<int64_t>(options.max_sequences, 1) * per_sequence * KvCache::kDefaultBlockSize;
}

}  // namespace

EngineCore::EngineCore(std::shared_ptr<const Transformer> model, const EngineCoreOptions& options)
    : model_(std::move(model)),
      options_(options),
      context_(context_for(*model_, options)),
      pool_(options.threads),
      kv_(model_->config().n_layer, std::max(options.max_sequences, 1),
          kv_tokens_for(options, context_), model_->config().kv_dim(), options.kv_type),
      prefix_cache_(kv_.block_size()) {
  if (options_.max_sequences < 1)
    fail("max_sequences must be >= 1, got {}", options_.max_sequences);
  if (options_.batch_tokens < 1) fail("batch size must be >= 1, got {}", options_.batch_tokens);
  if (model_->max_positions() > 0 && context_ > model_->max_positions()) {
    fail(
        "a context of {} positions is more than this model's {} learned positions: use a "
        "context of at most {}",
        context_, model_->max_positions(), model_->max_positions());
  }
  scratch_ = model_->make_scratch(options_.batch_tokens);
  slot_busy_.assign(static_cast<size_t>(options_.max_sequences), 0);
  if (options_.max_draft < 0) fail("max_draft must be >= 0, got {}", options_.max_draft);
  logits_.resize(
      static_cast<size_t>(options_.max_sequences * (1 + options_.max_draft) * config().n_vocab));
  outputs_.reserve(static_cast<size_t>(options_.max_sequences));
}

EngineCore::~EngineCore() = default;

int64_t EngineCore::available_blocks() const {
  return kv_.n_free_blocks() + prefix_cache_.n_evictable(kv_);
}

int32_t EngineCore::free_slots() const {
  return static_cast<int32_t>(std::count(slot_busy_.begin(), slot_busy_.end(), 0));
}

int64_t EngineCore::kv_blocks_to_admit(int64_t n_prompt, int32_t n_sequences) const {
  // The prompt and the first generated position, then one block per extra sequence for
  // the copy of the shared last block (or a fresh block) each writes after forking.
  return kv_.blocks_for(std::min(n_prompt + 1, context_)) + std::max(n_sequences - 1, 0);
}

int64_t EngineCore::kv_blocks_promised() const {
  int64_t promised = 0;
  for (const auto& s : sequences_) {
    promised +=
        kv_.blocks_needed(s->kv_slot, s->n_computed, static_cast<int64_t>(s->tokens.size()));
  }
  return promised;
}

bool EngineCore::can_admit(int64_t n_prompt, int32_t n_sequences, int32_t reserved_slots) const {
  return free_slots() - reserved_slots >= n_sequences &&
         available_blocks() - kv_blocks_promised() >= kv_blocks_to_admit(n_prompt, n_sequences);
}

void EngineCore::check_fits(int64_t n_prompt, int32_t n_sequences) const {
  const int64_t blocks = kv_blocks_to_admit(n_prompt, n_sequences);
  if (blocks > kv_.n_blocks()) {
    fail(
        "the prompt ({} tokens, {} sequences) needs {} KV cache blocks of {} positions but the "
        "cache holds only {} ({} tokens): shorten the prompt or raise the KV cache size",
        n_prompt, n_sequences, blocks, kv_.block_size(), kv_.n_blocks(), kv_.capacity_tokens());
  }
}

int64_t EngineCore::positions_that_fit(const Sequence& s, int64_t n, int64_t available) const {
  const int64_t free = available;
  if (kv_.blocks_needed(s.kv_slot, s.n_computed, s.n_computed + n) <= free) return n;
  int64_t lo = 0, hi = n;  // lo fits, hi does not
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (kv_.blocks_needed(s.kv_slot, s.n_computed, s.n_computed + mid) <= free) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

bool EngineCore::has_pending() const {
  return std::any_of(sequences_.begin(), sequences_.end(),
                     [](const auto& s) { return s->has_pending(); });
}

int32_t EngineCore::take_slot() {
  for (size_t i = 0; i < slot_busy_.size(); ++i) {
    if (!slot_busy_[i]) {
      slot_busy_[i] = 1;
      return static_cast<int32_t>(i);
    }
  }
  fail("all {} sequence slots are busy", slot_busy_.size());
}

int64_t EngineCore::add_sequence(std::vector<int32_t> prompt, int64_t max_new_tokens) {
  if (prompt.empty()) fail("the prompt is empty: at least one token is needed");
  if (max_new_tokens < 0) fail("max_tokens must be >= 0, got {}", max_new_tokens);
  const int64_t needed = static_cast<int64_t>(prompt.size()) + max_new_tokens;
  if (needed > context()) {
    fail(
        "the prompt ({} tokens) plus max_tokens ({}) needs {} positions, more than the context "
        "size {}: shorten the prompt, lower max_tokens or raise the context size",
        prompt.size(), max_new_tokens, needed, context());
  }
  for (int32_t token : prompt) {
    if (token < 0 || token >= config().n_vocab) {
      fail("token id {} is out of range for a vocabulary of {}", token, config().n_vocab);
    }
  }
  auto s = std::make_unique<Sequence>();
  s->id = next_id_++;
  s->kv_slot = take_slot();
  s->n_prompt = static_cast<int64_t>(prompt.size());
  s->tokens = std::move(prompt);
  if (options_.prefix_cache) {
    // At least the last prompt position is computed, for its logits: when the whole
    // prompt is cached, that position is written into a private copy of its block.
    PrefixCache::Match hit =
        prefix_cache_.match(s->tokens, static_cast<int64_t>(s->tokens.size()) / kv_.block_size());
    kv_.attach(s->kv_slot, hit.blocks);
    s->n_computed =
        std::min(static_cast<int64_t>(hit.blocks.size()) * kv_.block_size(), s->n_prompt - 1);
    s->n_cached = s->n_computed;
    s->block_hashes = std::move(hit.hashes);
    prefix_cache_.count(s->n_prompt, s->n_cached);
  }
  sequences_.push_back(std::move(s));
  return sequences_.back()->id;
}

Sequence& EngineCore::find(int64_t sequence_id) {
  for (auto& s : sequences_) {
    if (s->id == sequence_id) return *s;
  }
  fail("no sequence with id {}", sequence_id);
}

const Sequence& EngineCore::sequence(int64_t sequence_id) const {
  return const_cast<EngineCore*>(this)->find(sequence_id);
}

int64_t EngineCore::fork_sequence(int64_t parent) {
  const Sequence& p = find(parent);
  auto s = std::make_unique<Sequence>();
  s->id = next_id_++;
  s->kv_slot = take_slot();
  s->n_prompt = p.n_prompt;
  sequences_.push_back(std::move(s));
  copy_sequence(parent, sequences_.back()->id);
  return sequences_.back()->id;
}

void EngineCore::copy_sequence(int64_t source, int64_t target) {
  const Sequence& src = find(source);
  Sequence& dst = find(target);
  if (&src == &dst) return;
  kv_.share(src.kv_slot, dst.kv_slot, src.n_computed);
  dst.tokens = src.tokens;
  dst.n_prompt = src.n_prompt;
  dst.n_computed = src.n_computed;
  dst.n_cached = src.n_cached;
  dst.block_hashes = src.block_hashes;
}

void EngineCore::append_token(int64_t sequence_id, int32_t token) {
  Sequence& s = find(sequence_id);
  if (static_cast<int64_t>(s.tokens.size()) >= context()) {
    fail("sequence {} is full: the context size is {}", sequence_id, context());
  }
  s.tokens.push_back(token);
}

void EngineCore::add_draft(int64_t sequence_id, std::span<const int32_t> draft) {
  Sequence& s = find(sequence_id);
  if (s.n_draft > 0) fail("sequence {} already carries a draft", sequence_id);
  if (static_cast<int64_t>(draft.size()) > options_.max_draft) {
    fail("a draft of {} tokens is more than the most ({})", draft.size(), options_.max_draft);
  }
  if (static_cast<int64_t>(s.tokens.size() + draft.size()) > context()) {
    fail("sequence {} has no room in the context for {} draft tokens", sequence_id, draft.size());
  }
  s.tokens.insert(s.tokens.end(), draft.begin(), draft.end());
  s.n_draft = static_cast<int64_t>(draft.size());
}

void EngineCore::accept_draft(int64_t sequence_id, int64_t n_accepted) {
  Sequence& s = find(sequence_id);
  if (n_accepted < 0 || n_accepted > s.n_draft) {
    fail("cannot accept {} of {} draft tokens", n_accepted, s.n_draft);
  }
  const int64_t n_tokens = static_cast<int64_t>(s.tokens.size()) - s.n_draft + n_accepted;
  s.n_draft = 0;
  truncate(sequence_id, n_tokens);
}

void EngineCore::truncate(int64_t sequence_id, int64_t n_tokens) {
  Sequence& s = find(sequence_id);
  if (n_tokens < 1 || n_tokens > static_cast<int64_t>(s.tokens.size())) {
    fail("cannot truncate sequence {} of {} tokens to {}", sequence_id, s.tokens.size(), n_tokens);
  }
  const int64_t removed = static_cast<int64_t>(s.tokens.size()) - n_tokens;
  s.tokens.resize(static_cast<size_t>(n_tokens));
  s.n_draft = std::max<int64_t>(0, s.n_draft - removed);
  s.n_prompt = std::min(s.n_prompt, n_tokens);
  s.n_computed = std::min(s.n_computed, n_tokens);
  s.n_cached = std::min(s.n_cached, s.n_computed);
  kv_.truncate(s.kv_slot, s.n_computed);
  if (static_cast<int64_t>(s.block_hashes.size()) > s.n_computed / kv_.block_size()) {
    s.block_hashes.resize(static_cast<size_t>(s.n_computed / kv_.block_size()));
  }
}

void EngineCore::remove_sequence(int64_t sequence_id) {
  auto it = std::find_if(sequences_.begin(), sequences_.end(),
                         [&](const auto& s) { return s->id == sequence_id; });
  if (it == sequences_.end()) return;
  kv_.release((*it)->kv_slot);
  slot_busy_[(*it)->kv_slot] = 0;
  sequences_.erase(it);
}

std::span<const EngineCore::Output> EngineCore::step() {
  batch_.clear();
  advanced_.clear();
  outputs_.clear();
  // Decoding sequences first (one position each) so a long prefill never stalls them;
  // the budget splits long prompts into chunks over several steps.
  order_.clear();
  for (auto& s : sequences_) {
    if (s->has_pending()) order_.push_back(s.get());
  }
  std::stable_sort(order_.begin(), order_.end(), [](const Sequence* a, const Sequence* b) {
    return static_cast<int64_t>(a->tokens.size()) - a->n_computed <
           static_cast<int64_t>(b->tokens.size()) - b->n_computed;
  });
  int64_t budget = options_.batch_tokens;
  int64_t available = available_blocks();
  Sequence* stuck = nullptr;  // the newest sequence that found no free KV block
  for (Sequence* s : order_) {
    int64_t total = static_cast<int64_t>(s->tokens.size());
    int64_t n = std::min(total - s->n_computed, budget);
    if (n <= 0) break;
    n = positions_that_fit(*s, n, available);
    if (s->n_draft > 0 && n < total - s->n_computed) {
      // Drafts are verified in one step or not at all: drop them, decode as usual.
      accept_draft(s->id, 0);
      total = static_cast<int64_t>(s->tokens.size());
      n = std::min(n, total - s->n_computed);
    }
    if (n == 0) {
      if (stuck == nullptr || s->id > stuck->id) stuck = s;
      continue;
    }
    const int64_t needed = kv_.blocks_needed(s->kv_slot, s->n_computed, s->n_computed + n);
    prefix_cache_.evict_until_free(kv_, needed);
    kv_.reserve(s->kv_slot, s->n_computed, s->n_computed + n);
    available -= needed;
    for (int64_t p = s->n_computed; p < s->n_computed + n; ++p) {
      batch_.add(s->tokens[p], static_cast<int32_t>(p), s->kv_slot, p >= total - 1 - s->n_draft);
    }
    advanced_.emplace_back(s, n);
    budget -= n;
  }
  if (batch_.size() == 0) {
    // Nothing can advance, so nothing would ever free a block: give up on one sequence.
    if (stuck != nullptr) {
      outputs_.push_back({stuck->id, nullptr,
                          fmt::format("the KV cache is full ({} tokens in use by {} sequences): "
                                      "the sequence cannot grow; retry later or raise the KV "
                                      "cache size",
                                      kv_used_tokens(), sequences_.size())});
    }
    return outputs_;
  }

  model_->forward(batch_, kv_, *scratch_, pool_, logits_.data());
  ++counters_.steps;
  const int64_t n_vocab = config().n_vocab;
  int64_t row = 0;  // logits rows are in batch order
  for (auto [s, n] : advanced_) {
    const int64_t prompt_part =
        std::max<int64_t>(0, std::min(s->n_prompt, s->n_computed + n) - s->n_computed);
    counters_.prompt_positions += prompt_part;
    counters_.generated_positions += n - prompt_part;
    s->n_computed += n;
    if (options_.prefix_cache) cache_full_blocks(*s);
    release_out_of_window(s->kv_slot, s->n_computed);
    if (!s->has_pending()) {
      const auto n_rows = static_cast<int32_t>(1 + s->n_draft);
      outputs_.push_back({s->id, logits_.data() + row * n_vocab, {}, n_rows});
      row += n_rows;
    }
  }
  return outputs_;
}

void EngineCore::cache_full_blocks(Sequence& s) {
  const int64_t block_size = kv_.block_size();
  const std::vector<int32_t>& table = kv_.block_table(s.kv_slot);
  // Not draft positions: their tokens may yet be rejected.
  const int64_t settled = std::min(s.n_computed, static_cast<int64_t>(s.tokens.size()) - s.n_draft);
  for (int64_t i = static_cast<int64_t>(s.block_hashes.size()); (i + 1) * block_size <= settled;
       ++i) {
    const uint64_t parent = i == 0 ? 0 : s.block_hashes[i - 1];
    const std::span<const int32_t> tokens(s.tokens.data() + i * block_size,
                                          static_cast<size_t>(block_size));
    const uint64_t hash = PrefixCache::chain_hash(parent, tokens);
    s.block_hashes.push_back(hash);
    if (table[i] != KvCache::kNoBlock) prefix_cache_.insert(kv_, parent, hash, tokens, table[i], i);
  }
}

// The next position (n_computed) attends back to n_computed - span + 1 on every layer;
// a rollback of up to max_draft positions (rejected drafts) must find its window too.
void EngineCore::release_out_of_window(int32_t slot, int64_t n_computed) {
  const int64_t span = model_->attention_span();
  if (span > 0) kv_.release_before(slot, n_computed - span + 1 - options_.max_draft);
}

void EngineCore::evaluate(std::span<const int32_t> tokens, float* out) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n > context()) fail("{} tokens do not fit in the context size {}", n, context());
  const int32_t slot = take_slot();
  const int64_t n_vocab = config().n_vocab;
  try {
    Batch batch;
    for (int64_t begin = 0; begin < n; begin += options_.batch_tokens) {
      const int64_t end = std::min(n, begin + options_.batch_tokens);
      batch.clear();
      for (int64_t p = begin; p < end; ++p)
        batch.add(tokens[p], static_cast<int32_t>(p), slot, true);
      prefix_cache_.evict_until_free(kv_, kv_.blocks_needed(slot, begin, end));
      kv_.reserve(slot, begin, end);
      model_->forward(batch, kv_, *scratch_, pool_, out + begin * n_vocab);
      release_out_of_window(slot, end);
      counters_.prompt_positions += end - begin;
      ++counters_.steps;
    }
  } catch (...) {
    kv_.release(slot);
    slot_busy_[slot] = 0;
    throw;
  }
  kv_.release(slot);
  slot_busy_[slot] = 0;
}

}  // namespace loom
