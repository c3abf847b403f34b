// Progress of long CLI work (quantize, synth) on stderr. On a terminal, one line redrawn
// in place; when stderr is a file or pipe, a line at each quarter, so a log gets at most
// five lines instead of every frame.
#pragma once

#include <cstdint>
#include <string>

namespace loom::cli {

class Progress {
 public:
  // `what` names the work ("quantizing model.gguf").
  explicit Progress(std::string what);
  // Reports done of total bytes; cheap to call often.
  void update(uint64_t done, uint64_t total);
  // Ends the line on a terminal; prints nothing more otherwise.
  void finish();

 private:
  std::string what_;
  bool terminal_;
  int last_percent_ = -1;  // terminal: last drawn percent
  int next_quarter_ = 0;   // file or pipe: the next quarter (0, 25, 50, 75, 100) to print
};

}  // namespace loom::cli
