#include "runtime/draft_model.h"

#include <algorithm>
#include <cstring>

#include "core/timing.h"

namespace loom {

DraftModel::DraftModel(std::shared_ptr<const Transformer> model, const EngineCoreOptions& options)
    : core_(std::move(model), [&] {
        EngineCoreOptions o = options;
        o.max_draft = std::max(o.max_draft, 1);  // copies roll back by up to max_draft
        o.kv_tokens = 0;                         // every copy can reach the full context
        return o;
      }()) {}

void DraftModel::sync(int64_t key, std::span<const int32_t> tokens) {
  auto it = copies_.find(key);
  if (it == copies_.end()) {
    copies_[key] = core_.add_sequence(std::vector<int32_t>(tokens.begin(), tokens.end()), 0);
    return;
  }
  const int64_t id = it->second;
  const std::vector<int32_t>& have = core_.sequence(id).tokens;
  const size_t common = static_cast<size_t>(
      std::mismatch(have.begin(), have.end(), tokens.begin(), tokens.end()).first - have.begin());
  if (common == 0) {  // nothing shared (cannot happen for one sequence): start again
    core_.remove_sequence(id);
    copies_[key] = core_.add_sequence(std::vector<int32_t>(tokens.begin(), tokens.end()), 0);
    return;
  }
  if (common < have.size()) core_.truncate(id, static_cast<int64_t>(common));
  for (size_t i = common; i < tokens.size(); ++i) core_.append_token(id, tokens[i]);
}

void DraftModel::append(int64_t key, int32_t token) {
  core_.append_token(copies_.at(key), token);
}

void DraftModel::remove(int64_t key) {
  auto it = copies_.find(key);
  if (it == copies_.end()) return;
  core_.remove_sequence(it->second);
  copies_.erase(it);
}

std::span<const DraftModel::Row> DraftModel::step(std::span<const int64_t> keys) {
  rows_.clear();
  const int64_t n_vocab = core_.config().n_vocab;
  logits_.resize(keys.size() * static_cast<size_t>(n_vocab));
  std::map<int64_t, int64_t> wanted;  // draft sequence -> key
  for (int64_t key : keys) wanted[copies_.at(key)] = key;
  while (!wanted.empty() && core_.has_pending()) {
    const double start = now_seconds();
    const std::span<const EngineCore::Output> outputs = core_.step();
    if (core_.last_step_positions() == 1) {
      const double seconds = now_seconds() - start;
      decode_step_seconds_ =
          decode_step_seconds_ == 0 ? seconds : std::min(decode_step_seconds_, seconds);
    }
    if (core_.last_step_positions() == 0) break;  // nothing could advance
    for (const EngineCore::Output& out : outputs) {
      auto it = wanted.find(out.sequence_id);
      if (it == wanted.end()) continue;
      if (out.logits == nullptr) {  // the draft's KV cache is full: no proposal this time
        wanted.erase(it);
        continue;
      }
      float* row = logits_.data() + rows_.size() * static_cast<size_t>(n_vocab);
      std::memcpy(row, out.logits, static_cast<size_t>(n_vocab) * sizeof(float));
      rows_.push_back({it->second, row});
      wanted.erase(it);
    }
  }
  return rows_;
}

}  // namespace loom
