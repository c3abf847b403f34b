// Speculative decoding with a draft model: after a step's tokens are sampled, the choices
// that asked for a draft (propose_draft) are run through the draft model together, one
// batched draft step per proposed position, and each proposal goes to the runtime to be
// verified in the target's next step (sample_choice).
#include <algorithm>

#include "api/engine_impl.h"

namespace loom {

void Engine::Impl::forget_draft(int64_t sequence) {
  if (draft_model) draft_model->remove(sequence);
}

void Engine::Impl::run_draft_model() {
  std::vector<std::pair<RequestState*, ChoiceState*>> requests;
  requests.swap(draft_requests);
  const int32_t n_vocab = tokenizer->n_vocab();
  const int32_t n_vocab_draft = draft_model->n_vocab();
  std::map<int64_t, std::pair<RequestState*, ChoiceState*>> by_key;
  std::vector<int64_t> keys;
  for (auto [r, c] : requests) {
    if (r->done || c->finished || c->sequence < 0) continue;
    draft_model->sync(c->sequence, core->sequence(c->sequence).tokens);
    c->draft_tokens.clear();
    c->draft_q.clear();
    by_key[c->sequence] = {r, c};
    keys.push_back(c->sequence);
  }
  while (!keys.empty()) {
    std::vector<int64_t> next;
    for (const DraftModel::Row& row : draft_model->step(keys)) {
      auto [r, c] = by_key.at(row.key);
      Sampler& sampler = *c->draft_sampler;
      int32_t token;
      if (r->params.temperature == 0.0f) {
        token = sampler.sample(row.logits, n_vocab_draft);
      } else {
        // The target judges each proposal by the probability the draft gave it.
        const Candidates& q = sampler.distribution(row.logits, n_vocab_draft);
        token = sampler.draw_from_distribution();
        const size_t offset = c->draft_q.size();
        c->draft_q.resize(offset + static_cast<size_t>(n_vocab), 0.0f);
        for (const TokenCandidate& t : q.items) c->draft_q[offset + t.id] = t.prob;
      }
      c->draft_tokens.push_back(token);
      const bool ends =
          std::find(r->stop_tokens.begin(), r->stop_tokens.end(), token) != r->stop_tokens.end();
      if (static_cast<int32_t>(c->draft_tokens.size()) < c->draft_wanted && !ends) {
        draft_model->append(row.key, token);
        next.push_back(row.key);
      }
    }
    keys.swap(next);
  }
  for (auto& [key, rc] : by_key) {
    ChoiceState& c = *rc.second;
    if (c.draft_tokens.empty()) continue;
    core->add_draft(c.sequence, c.draft_tokens);
  }
}

}  // namespace loom
