// Stop strings on a text stream: text that could still be the start of a stop string is
// held back until it is resolved, and a matched stop string (and everything after it) is
// never released. Matches across token boundaries, overlapping stop strings, and a stop
// string at the very start all come out right because matching runs on the held text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace loom {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds text; returns what can be shown now. After a match, stopped() is true and the
  // returned text ends right before the stop string.
  std::string push(std::string_view text);
  // End of stream without a match: whatever is held.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace loom
