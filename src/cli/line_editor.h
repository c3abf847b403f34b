// Reading the chat's lines on a terminal: editing, history (kept in a file) and Ctrl-C,
// through libedit (BSD licence; readline is GPL).
#pragma once

#include <memory>
#include <string>

namespace loom::cli {

class LineEditor {
 public:
  enum class Status {
    kLine,         // a line was entered
    kInterrupted,  // Ctrl-C: the typed text (line) was dropped
    kEnd,          // Ctrl-D on an empty line, or the input ended
  };
  struct Input {
    Status status = Status::kEnd;
    std::string line;  // kLine: the line; kInterrupted: the text that was dropped
  };

  // history_path: the file that history is read from and written to; "" keeps none.
  // Writing it may fail (a read-only home): history then lasts for this session only.
  explicit LineEditor(std::string history_path);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  // Needs the interrupt handler (interrupt.h) installed for Ctrl-C.
  Input read(const std::string& prompt);
  void add_history(const std::string& line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// $XDG_STATE_HOME/loom/chat_history, else ~/.local/state/loom/chat_history (the XDG base
// directory spec's place for history); "" when neither variable is set.
std::string default_history_path();

}  // namespace loom::cli
