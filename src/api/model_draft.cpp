#include "api/model_draft.h"

#include <algorithm>
#include <map>

#include "api/sampling_run.h"

namespace loom {

void DraftPass::run(EngineCore& core, int32_t n_vocab) {
  if (requests_.empty()) return;
  std::vector<std::pair<const RequestState*, ChoiceState*>> requests;
  requests.swap(requests_);
  const int32_t n_vocab_draft = model_->n_vocab();
  std::map<int64_t, std::pair<const RequestState*, ChoiceState*>> by_key;
  std::vector<int64_t> keys;
  for (auto [r, c] : requests) {
    if (r->done || c->finished || c->sequence < 0) continue;
    model_->sync(c->sequence, core.sequence(c->sequence).tokens);
    c->draft_tokens.clear();
    c->draft_q.clear();
    by_key[c->sequence] = {r, c};
    keys.push_back(c->sequence);
  }
  while (!keys.empty()) {
    std::vector<int64_t> next;
    for (const DraftModel::Row& row : model_->step(keys)) {
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
      const bool ends = r->ends_generation(token);
      if (static_cast<int32_t>(c->draft_tokens.size()) < c->draft_wanted && !ends) {
        model_->append(row.key, token);
        next.push_back(row.key);
      }
    }
    keys.swap(next);
  }
  for (auto& [key, rc] : by_key) {
    ChoiceState& c = *rc.second;
    if (c.draft_tokens.empty()) continue;
    core.add_draft(c.sequence, c.draft_tokens);
  }
}

}  // namespace loom
