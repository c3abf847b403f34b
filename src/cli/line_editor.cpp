#include "cli/line_editor.h"

#include <histedit.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <clocale>
#include <cstdlib>
#include <cwchar>
#include <filesystem>

#include "cli/interrupt.h"

namespace loom::cli {
namespace {

// libedit reads the terminal through this function rather than its own, so that Ctrl-C
// ends the line at once: its own read retries a read() interrupted by a signal.
int read_char(EditLine* el, wchar_t* out) {
  FILE* in = nullptr;
  el_get(el, EL_GETFP, 0, &in);
  const int fd = in != nullptr ? fileno(in) : STDIN_FILENO;
  char bytes[MB_LEN_MAX];
  size_t n = 0;
  for (;;) {
    const int ready = wait_readable_or_interrupt(fd);
    if (ready < 0) return -1;
    if (ready == 0) {
      errno = EINTR;
      return -1;
    }
    const ssize_t got = ::read(fd, bytes + n, 1);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    if (got == 0) return 0;
    ++n;
    std::mbstate_t state{};
    const size_t used = std::mbrtowc(out, bytes, n, &state);
    if (used == static_cast<size_t>(-2) && n < sizeof bytes) continue;  // more bytes to come
    if (used == static_cast<size_t>(-1) || used == static_cast<size_t>(-2)) {
      n = 0;  // not a character in this locale: dropped, as libedit does
      continue;
    }
    return 1;
  }
}

// Characters beyond ASCII need a UTF-8 LC_CTYPE; a terminal started without a locale gets
// C.UTF-8. Only LC_CTYPE: numbers keep the C locale's decimal point.
void use_utf8_ctype() {
  const char* set = std::setlocale(LC_CTYPE, "");
  const std::string name = set != nullptr ? set : "";
  if (name.find("UTF-8") == std::string::npos && name.find("utf8") == std::string::npos) {
    std::setlocale(LC_CTYPE, "C.UTF-8");
  }
}

}  // namespace

struct LineEditor::Impl {
  EditLine* el = nullptr;
  History* history = nullptr;
  std::string history_path;
  std::string prompt;

  static char* prompt_of(EditLine* el) {
    Impl* self = nullptr;
    el_get(el, EL_CLIENTDATA, &self);
    return self->prompt.data();
  }
};

LineEditor::LineEditor(std::string history_path) : impl_(std::make_unique<Impl>()) {
  use_utf8_ctype();
  Impl& m = *impl_;
  m.history_path = std::move(history_path);
  m.el = el_init("loom", stdin, stdout, stderr);
  m.history = history_init();
  HistEvent event;
  history(m.history, &event, H_SETSIZE, 1000);
  history(m.history, &event, H_SETUNIQUE, 1);
  if (!m.history_path.empty()) history(m.history, &event, H_LOAD, m.history_path.c_str());
  el_set(m.el, EL_CLIENTDATA, &m);
  el_set(m.el, EL_EDITOR, "emacs");
  el_set(m.el, EL_HIST, history, m.history);
  el_set(m.el, EL_PROMPT, &Impl::prompt_of);
  el_set(m.el, EL_GETCFN, &read_char);
  el_source(m.el, nullptr);  // the user's ~/.editrc, if any
}

LineEditor::~LineEditor() {
  history_end(impl_->history);
  el_end(impl_->el);
}

LineEditor::Input LineEditor::read(const std::string& prompt) {
  impl_->prompt = prompt;
  take_interrupt();
  int count = 0;
  const char* line = el_gets(impl_->el, &count);
  Input input;
  if (line == nullptr && count < 0 && take_interrupt()) {
    const LineInfo* info = el_line(impl_->el);
    input.status = Status::kInterrupted;
    input.line.assign(info->buffer, info->lastchar);
    return input;
  }
  if (line == nullptr) return input;  // Ctrl-D on an empty line, or the end of input
  input.status = Status::kLine;
  input.line = line;
  while (!input.line.empty() && (input.line.back() == '\n' || input.line.back() == '\r')) {
    input.line.pop_back();
  }
  return input;
}

void LineEditor::add_history(const std::string& line) {
  HistEvent event;
  history(impl_->history, &event, H_ENTER, line.c_str());
  if (impl_->history_path.empty()) return;
  // Saved after every line, so a crash loses none; a failure only costs the file.
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(impl_->history_path).parent_path(),
                                      error);
  history(impl_->history, &event, H_SAVE, impl_->history_path.c_str());
}

std::string default_history_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') return std::string(state) + "/loom/chat_history";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.local/state/loom/chat_history";
  }
  return "";
}

}  // namespace loom::cli
