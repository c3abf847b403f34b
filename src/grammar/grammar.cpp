#include "grammar/grammar.h"

#include <algorithm>

namespace loom::grammar {

void CharClass::finish() {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges = std::move(merged);
  ascii[0] = ascii[1] = 0;
  for (uint32_t cp = 0; cp < 128; ++cp) {
    bool in = false;
    for (const auto& r : ranges) in = in || (cp >= r.first && cp <= r.second);
    if (in != negated) ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
  }
}

bool CharClass::matches(uint32_t cp) const {
  if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
  // First range whose end is >= cp.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), cp,
                             [](const auto& r, uint32_t v) { return r.second < v; });
  const bool in = it != ranges.end() && it->first <= cp;
  return in != negated;
}

bool CharClass::intersects(uint32_t lo, uint32_t hi) const {
  if (lo > hi) return false;
  if (!negated) {
    for (const auto& r : ranges) {
      if (r.first <= hi && r.second >= lo) return true;
    }
    return false;
  }
  // The complement meets [lo, hi] unless the ranges cover all of it.
  uint32_t next = lo;
  for (const auto& r : ranges) {
    if (r.second < next) continue;
    if (r.first > next) return true;
    if (r.second >= hi) return false;
    next = r.second + 1;
  }
  return next <= hi;
}

}  // namespace loom::grammar
