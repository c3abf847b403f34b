#include "grammar/state_space.h"

#include <algorithm>

namespace loom::grammar {
namespace {

constexpr uint32_t kPartial = 0x80000000u;

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

size_t StateSpace::NodeHash::operator()(const Node& n) const {
  return mix((uint64_t{n.pos} << 32 | n.parent) ^ mix(n.utf8));
}

size_t StateSpace::VectorHash::operator()(const std::vector<uint32_t>& v) const {
  uint64_t h = v.size();
  for (uint32_t x : v) h = mix(h ^ x) + 0x9e3779b97f4a7c15ULL;
  return h;
}

StateSpace::StateSpace(const Grammar& grammar) : grammar_(grammar) {
  nodes_.push_back({UINT32_MAX, 0, 0});  // kAcceptNode
  sets_.emplace_back();                  // kDeadState
  accepting_.push_back(false);
  row_of_state_.push_back(kNoRow);
  set_ids_.emplace(std::vector<uint32_t>{}, kDeadState);
  transition_keys_.assign(1024, 0);
  transition_values_.assign(1024, 0);
  scratch_.clear();
  visiting_.clear();
  for (uint32_t alt : grammar_.rules[grammar_.root].alternatives) {
    push_tops(alt, kAcceptNode, scratch_);
  }
  initial_ = intern_set(scratch_);
}

uint32_t StateSpace::intern_node(uint32_t pos, uint32_t parent, uint32_t utf8) {
  const Node node{pos, parent, utf8};
  const auto [it, inserted] = node_ids_.try_emplace(node, static_cast<uint32_t>(nodes_.size()));
  if (inserted) nodes_.push_back(node);
  return it->second;
}

void StateSpace::push_tops(uint32_t pos, uint32_t parent, std::vector<uint32_t>& out) {
  const Element element = grammar_.elements[pos];
  if (element.kind == ElementKind::kEnd) {
    if (parent == kAcceptNode) {
      out.push_back(kAcceptNode);
    } else {
      const Node cont = nodes_[parent];
      push_tops(cont.pos, cont.parent, out);
    }
    return;
  }
  // A tail-recursive nullable loop (x* with x able to match nothing) comes back to the
  // same (pos, parent): its tops are already being produced.
  if (!visiting_.insert(uint64_t{pos} << 32 | parent).second) return;
  if (element.kind == ElementKind::kChars) {
    out.push_back(intern_node(pos, parent, 0));
    return;
  }
  // A reference in tail position continues straight with the parent (no stack growth).
  const uint32_t cont = grammar_.elements[pos + 1].kind == ElementKind::kEnd
                            ? parent
                            : intern_node(pos + 1, parent, 0);
  for (uint32_t alt : grammar_.rules[element.value].alternatives) push_tops(alt, cont, out);
}

void StateSpace::complete(const Node& node, uint32_t cp, std::vector<uint32_t>& out) {
  if (grammar_.classes[grammar_.elements[node.pos].value].matches(cp)) {
    push_tops(node.pos + 1, node.parent, out);
  }
}

void StateSpace::step_node(uint32_t id, uint8_t byte, std::vector<uint32_t>& out) {
  const Node node = nodes_[id];
  uint32_t bits, remaining, length;
  if (node.utf8 == 0) {
    if (byte < 0x80) return complete(node, byte, out);
    if (byte >= 0xC2 && byte <= 0xDF) {
      bits = byte & 0x1F, remaining = 1, length = 2;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      bits = byte & 0x0F, remaining = 2, length = 3;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      bits = byte & 0x07, remaining = 3, length = 4;
    } else {
      return;  // a continuation byte or an invalid lead byte
    }
  } else {
    if ((byte & 0xC0) != 0x80) return;
    bits = ((node.utf8 & 0xFFFFFF) << 6) | (byte & 0x3F);
    remaining = ((node.utf8 >> 24) & 0xF) - 1;
    length = (node.utf8 >> 28) & 0x7;
  }
  const uint32_t min_cp = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
  if (remaining == 0) {
    const bool surrogate = bits >= 0xD800 && bits <= 0xDFFF;
    if (bits >= min_cp && bits <= kMaxCodePoint && !surrogate) complete(node, bits, out);
    return;
  }
  // Keep the partial code point only if some completion of it is in the class.
  const uint32_t shift = 6 * remaining;
  const uint32_t lo = std::max(min_cp, bits << shift);
  const uint32_t hi = std::min(kMaxCodePoint, (bits << shift) | ((1u << shift) - 1));
  if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return;
  if (!grammar_.classes[grammar_.elements[node.pos].value].intersects(lo, hi)) return;
  out.push_back(
      intern_node(node.pos, node.parent, kPartial | length << 28 | remaining << 24 | bits));
}

StateId StateSpace::intern_set(std::vector<uint32_t>& nodes) {
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  const auto [it, inserted] = set_ids_.try_emplace(nodes, static_cast<StateId>(sets_.size()));
  if (inserted) {
    sets_.push_back(nodes);
    accepting_.push_back(!nodes.empty() && nodes.front() == kAcceptNode);
    row_of_state_.push_back(kNoRow);
  }
  return it->second;
}

StateId StateSpace::step(StateId state, uint8_t byte) {
  uint32_t row = row_of_state_[state];
  if (row == kNoRow && dense_.size() < kMaxDenseRows * 256) {
    row = static_cast<uint32_t>(dense_.size() / 256);
    dense_.resize(dense_.size() + 256, kUnknown);
    row_of_state_[state] = row;
  }
  if (row != kNoRow) {
    const size_t slot = size_t{row} * 256 + byte;
    if (dense_[slot] == kUnknown) dense_[slot] = compute_step(state, byte);
    return dense_[slot];
  }
  const uint64_t key = (uint64_t{state} << 8 | byte) + 1;
  size_t mask = transition_keys_.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (transition_keys_[i] == key) return transition_values_[i];
    if (transition_keys_[i] == 0) break;
  }
  const StateId next = compute_step(state, byte);
  if (2 * (n_transitions_ + 1) > transition_keys_.size()) {
    std::vector<uint64_t> keys(transition_keys_.size() * 2, 0);
    std::vector<StateId> values(keys.size(), 0);
    mask = keys.size() - 1;
    for (size_t j = 0; j < transition_keys_.size(); ++j) {
      if (transition_keys_[j] == 0) continue;
      size_t i = mix(transition_keys_[j]) & mask;
      while (keys[i] != 0) i = (i + 1) & mask;
      keys[i] = transition_keys_[j];
      values[i] = transition_values_[j];
    }
    transition_keys_.swap(keys);
    transition_values_.swap(values);
  }
  size_t i = mix(key) & mask;
  while (transition_keys_[i] != 0) i = (i + 1) & mask;
  transition_keys_[i] = key;
  transition_values_[i] = next;
  ++n_transitions_;
  return next;
}

StateId StateSpace::compute_step(StateId state, uint8_t byte) {
  scratch_.clear();
  visiting_.clear();
  const size_t n = sets_[state].size();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t node = sets_[state][i];
    if (node != kAcceptNode) step_node(node, byte, scratch_);
  }
  return intern_set(scratch_);
}

StateId StateSpace::step(StateId state, std::string_view bytes) {
  for (char c : bytes) {
    if (state == kDeadState) break;
    state = step(state, static_cast<uint8_t>(c));
  }
  return state;
}

}  // namespace loom::grammar
