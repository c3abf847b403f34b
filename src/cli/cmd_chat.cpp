// `loom chat`: a conversation with a model in the terminal, replies streamed as they are
// generated, the KV cache of the conversation reused from one turn to the next. With stdin
// not a terminal it reads one user message per line and writes each reply followed by an
// empty line, for scripts.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/chat_reply.h"
#include "cli/chat_session.h"
#include "cli/chat_settings.h"
#include "cli/chat_transcript.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/interrupt.h"
#include "cli/line_editor.h"
#include "loom/chat.h"
#include "loom/error.h"
#include "loom/loom.h"

namespace loom::cli {
namespace {

struct ChatArgs {
  EngineArgs engine;
  GenerationArgs generation = {.n_predict = 0};
  std::string chat_template;
  std::string system;
  bool hide_thinking = false;
  bool no_context_shift = false;
  bool verbose = false;
};

constexpr const char* kHelp =
    "  /help               this list\n"
    "  /reset              forget the conversation (the system message stays)\n"
    "  /system [TEXT]      set the system message (none: remove it)\n"
    "  /set NAME VALUE     change a decoding setting, named as the flags: /set temp 0.7,\n"
    "                      /set top-k 20, /set stop User:, /set n-predict 256 (an empty\n"
    "                      value clears a list such as stop)\n"
    "  /show               the current settings\n"
    "  /save FILE          write the conversation as JSON messages [{\"role\", \"content\"}]\n"
    "  /load FILE          read a conversation written by /save (or any such messages)\n"
    "  /stats              the last reply's speed and the context used\n"
    "  /exit               leave (so do Ctrl-D and Ctrl-C on an empty line)\n"
    "  Ctrl-C during a reply stops it; the partial reply stays in the conversation.\n"
    "  A line starting with // sends the rest with one /.\n";

// The first line of `text`, cut to about max_bytes (at a character boundary) for messages.
std::string abbreviate(const std::string& text, size_t max_bytes) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() <= max_bytes && line.size() == text.size()) return line;
  if (line.size() > max_bytes) {
    size_t lead = max_bytes;  // the first byte of the character that would be cut
    while (lead > 0 && (static_cast<unsigned char>(line[lead]) & 0xC0) == 0x80) --lead;
    line.resize(lead);
  }
  return line + "…";
}

class Chat {
 public:
  explicit Chat(const ChatArgs& args) : args_(args) {
    if (args.generation.n_predict < 0) {
      throw Error("-n must be >= 0 (0: a quarter of the context)");
    }
    interactive_ = isatty(STDIN_FILENO) != 0;
    colour_ = interactive_ && isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
    // Ctrl-C is for the main thread: threads that loading and the engine start never take it.
    block_interrupt();
    model_ = Model::load(args.engine.model_path, {.mlock = args.engine.mlock});
    template_name_ = resolve_template();
    EngineOptions options = to_engine_options(args.engine);
    options.max_sequences = 1;
    engine_ = std::make_unique<Engine>(model_, options);
    session_ = std::make_unique<ChatSession>(model_, template_name_);
    if (!args.system.empty()) session_->set_system(args.system);
    check_template();
    base_request_ = to_request(args_.generation);
    if (max_reply() >= engine_->context()) {
      throw Error(fmt::format("-n {} leaves no room in the context ({} tokens) for a prompt",
                              max_reply(), engine_->context()));
    }
    unblock_interrupt();
  }

  int run() {
    if (interactive_) {
      install_interrupt_handler();
      editor_ = std::make_unique<LineEditor>(default_history_path());
      say("{} ({}), template: {}, context {} tokens, replies up to {} tokens", model_name(),
          args_.engine.model_path, template_description_, engine_->context(), max_reply());
      say("/help lists the commands; Ctrl-C stops a reply, Ctrl-D exits");
    }
    for (;;) {
      std::string line;
      if (interactive_) {
        const LineEditor::Input input = editor_->read("> ");
        if (input.status == LineEditor::Status::kEnd) {
          std::fputs("\n", stdout);
          return 0;
        }
        if (input.status == LineEditor::Status::kInterrupted) {
          std::fputs("\n", stdout);
          if (input.line.empty()) return 0;  // Ctrl-C on an empty line leaves
          continue;                          // else it only drops the line
        }
        line = input.line;
        if (!line.empty()) editor_->add_history(line);
      } else if (!std::getline(std::cin, line)) {
        return 0;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      bool ok = true;
      if (line[0] == '/' && (line.size() == 1 || line[1] != '/')) {
        if (command(line, ok)) return ok ? 0 : 1;
      } else {
        ok = turn(line[0] == '/' ? line.substr(1) : line);
      }
      if (!ok && !interactive_) return 1;  // a script stops at the first error
    }
  }

 private:
  template <typename... T>
  void say(fmt::format_string<T...> format, T&&... args) {
    std::fflush(stdout);
    fmt::print(stderr, "loom: {}\n", fmt::format(format, std::forward<T>(args)...));
  }

  template <typename... T>
  void debug(fmt::format_string<T...> format, T&&... args) {
    if (args_.verbose) say("debug: {}", fmt::format(format, std::forward<T>(args)...));
  }

  void error(const std::string& message) { say("error: {}", message); }

  std::string model_name() const {
    return model_->info().name.empty() ? model_->info().architecture : model_->info().name;
  }

  int64_t max_reply() const {
    return args_.generation.n_predict > 0 ? args_.generation.n_predict : engine_->context() / 4;
  }

  // --chat-template: a file of Jinja source, or what apply_chat_template takes.
  std::string resolve_template() {
    const std::string& given = args_.chat_template;
    if (given.empty()) {
      template_description_ = chat_template_source(*model_).empty()
                                  ? "built-in chatml (the model has none)"
                                  : "the model's";
      return "";
    }
    std::error_code error;
    if (std::filesystem::is_regular_file(given, error)) {
      template_description_ = "'" + given + "'";
      return read_text_file(given, "chat template file");
    }
    template_description_ = given;
    return given;
  }

  void check_template() {
    std::vector<ChatMessage> sample = session_->messages();
    sample.push_back({"user", "Hello"});
    try {
      apply_chat_template(*model_, sample, true, template_name_);
    } catch (const Error& e) {
      throw Error(fmt::format("the chat template ({}) fails: {}", template_description_, e.what()));
    }
  }

  // One user message and its reply. False when it could not run (said why).
  bool turn(const std::string& text) {
    session_->add_user(text);
    ChatPrompt prompt;
    try {
      prompt = fit_context();
    } catch (const Error& e) {
      session_->remove_last_user();
      error(e.what());
      return false;
    }
    Request request = base_request_;
    request.prompt_tokens = prompt.tokens;
    request.max_tokens = max_reply();
    ReplyDisplay display;
    display.colour = colour_;
    display.hide_thinking = args_.hide_thinking;
    const size_t last = prompt.text.find_last_not_of(" \t\r\n");
    display.starts_thinking =
        last != std::string::npos && last >= 6 && prompt.text.compare(last - 6, 7, "<think>") == 0;
    Reply reply;
    try {
      reply = stream_reply(*engine_, request, display, stdout);
    } catch (const Error& e) {
      session_->remove_last_user();
      error(fmt::format("{} (see /show; change it with /set)", e.what()));
      return false;
    }
    if (!reply.error.empty()) {
      std::fputs("\n", stdout);
      session_->remove_last_user();
      error(reply.error);
      return false;
    }
    if (reply.interrupted) {
      fmt::print(stdout, " {}[interrupted]{}", colour_ ? "\x1b[2m" : "", colour_ ? "\x1b[22m" : "");
    }
    std::fputs("\n\n", stdout);
    std::fflush(stdout);
    session_->add_reply(prompt, reply.text, reply.tokens);
    last_prompt_tokens_ = static_cast<int64_t>(prompt.tokens.size());
    last_reply_ = std::move(reply);
    return true;
  }

  // The prompt for the conversation, dropping the oldest turns while the prompt and a full
  // reply do not fit the context (or refusing, with --no-context-shift).
  ChatPrompt fit_context() {
    const int64_t context = engine_->context();
    const int64_t reserve = max_reply();
    ChatPrompt prompt = session_->prompt();
    std::vector<std::string> dropped;
    while (static_cast<int64_t>(prompt.tokens.size()) + reserve > context) {
      if (args_.no_context_shift) {
        throw Error(fmt::format(
            "context full ({} tokens): the conversation ({} tokens) and a reply of up to {} "
            "tokens do not fit, and --no-context-shift keeps every turn; /reset, lower "
            "n-predict with /set, or /save and /load a shorter conversation",
            context, prompt.tokens.size(), reserve));
      }
      std::optional<std::string> turn = session_->drop_oldest_turn();
      if (!turn) {
        throw Error(fmt::format(
            "this message needs a prompt of {} tokens; with a reply of up to {} tokens that is "
            "more than the context ({} tokens): shorten it, or lower n-predict with /set",
            prompt.tokens.size(), reserve, context));
      }
      dropped.push_back(*turn);
      prompt = session_->prompt();
    }
    if (!dropped.empty()) {
      std::string which;
      for (const std::string& text : dropped) {
        which += (which.empty() ? "\"" : ", \"") + abbreviate(text, 24) + "\"";
      }
      if (dropped.size() == 1) {
        say("context full ({} tokens): dropped the oldest turn ({}) and its reply", context, which);
      } else {
        say("context full ({} tokens): dropped the {} oldest turns ({}) and their replies", context,
            dropped.size(), which);
      }
    }
    if (prompt.continues_previous) {
      debug("prompt {} tokens, continuing the previous turn's {}", prompt.tokens.size(),
            last_prompt_tokens_ + static_cast<int64_t>(last_reply_.tokens.size()));
    } else {
      debug("prompt {} tokens, all encoded afresh: {}", prompt.tokens.size(), prompt.why_not);
    }
    return prompt;
  }

  // Runs a slash command; true when the chat ends (ok: with success).
  bool command(const std::string& line, bool& ok) {
    const size_t space = line.find(' ');
    const std::string name = line.substr(0, space);
    std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    rest.erase(0, rest.find_first_not_of(' '));
    ok = true;
    try {
      if (name == "/exit" || name == "/quit") return true;
      if (name == "/help") {
        fmt::print(stderr, "{}", kHelp);
      } else if (name == "/reset") {
        session_->reset();
        say("the conversation is forgotten{}",
            session_->messages().empty() ? "" : " (the system message stays)");
      } else if (name == "/system") {
        session_->set_system(rest);
        say("{}", rest.empty() ? "system message removed" : "system message set");
      } else if (name == "/set") {
        set(rest);
      } else if (name == "/show") {
        show();
      } else if (name == "/save") {
        if (rest.empty()) throw Error("/save needs a file name");
        save_transcript(rest, session_->messages());
        say("saved {} messages to {}", session_->messages().size(), rest);
      } else if (name == "/load") {
        load(rest);
      } else if (name == "/stats") {
        stats();
      } else {
        throw Error(fmt::format(
            "unknown command {}; /help lists them (start a line with // to send a /)", name));
      }
    } catch (const Error& e) {
      error(e.what());
      ok = false;
    }
    return false;
  }

  void set(const std::string& rest) {
    if (rest.empty()) return show();
    const size_t space = rest.find(' ');
    const std::string name = rest.substr(0, space);
    const std::string value = space == std::string::npos ? "" : rest.substr(space + 1);
    GenerationArgs changed = args_.generation;
    set_generation_option(changed, name, value);
    if (changed.n_predict < 0) throw Error("n-predict must be >= 0 (0: a quarter of the context)");
    base_request_ = to_request(changed);  // reads grammar and schema files now
    args_.generation = changed;
    if (max_reply() >= engine_->context()) {
      say("warning: replies of up to {} tokens leave no room for a prompt in the context ({})",
          max_reply(), engine_->context());
    }
  }

  void show() {
    const std::vector<ChatMessage>& messages = session_->messages();
    const bool has_system = !messages.empty() && messages.front().role == "system";
    std::string out = fmt::format(
        "  model              {}\n  template           {}\n  context            {} tokens\n"
        "  replies            up to {} tokens\n  system             {}\n  turns              {}\n",
        args_.engine.model_path, template_description_, engine_->context(), max_reply(),
        has_system ? "\"" + abbreviate(messages.front().content, 50) + "\"" : "(none)",
        session_->turns());
    for (const auto& [name, value] : generation_option_values(args_.generation)) {
      const bool none = value.empty() || value == "[]";
      out += fmt::format("  {:<19}{}\n", name, none ? "(none)" : value);
    }
    fmt::print(stderr, "{}", out);
  }

  void load(const std::string& path) {
    if (path.empty()) throw Error("/load needs a file name");
    std::vector<ChatMessage> messages = load_transcript(path);
    try {
      apply_chat_template(*model_, messages, false, template_name_);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: the chat template refuses it: {}", path, e.what()));
    }
    session_->replace(std::move(messages));
    say("loaded {} messages ({} turns) from {}", session_->messages().size(), session_->turns(),
        path);
  }

  void stats() {
    if (!last_reply_.timings && last_reply_.tokens.empty() && !last_reply_.interrupted) {
      say("no reply yet");
      return;
    }
    const Reply& r = last_reply_;
    const double ttft = r.timings ? r.timings->time_to_first_token_s : r.time_to_first_token_s;
    const double rate = r.timings ? r.timings->decode_tokens_per_s : r.decode_tokens_per_s;
    const int64_t cached = r.timings ? r.timings->cached_prompt_tokens : -1;
    const int64_t used = last_prompt_tokens_ + static_cast<int64_t>(r.tokens.size());
    fmt::print(stderr,
               "  last reply      {} tokens ({})\n  first token     {:.1f} ms\n"
               "  decode          {:.1f} tokens/s\n  prompt          {} tokens{}\n"
               "  context used    {} of {} tokens\n",
               r.tokens.size(), r.interrupted ? "interrupted" : to_string(r.finish_reason),
               ttft * 1e3, rate, last_prompt_tokens_,
               cached >= 0 ? fmt::format(" ({} reused from the cache)", cached) : "", used,
               engine_->context());
  }

  ChatArgs args_;
  bool interactive_ = false;
  bool colour_ = false;
  std::shared_ptr<Model> model_;
  std::string template_name_;
  std::string template_description_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ChatSession> session_;
  std::unique_ptr<LineEditor> editor_;
  Request base_request_;
  Reply last_reply_;
  int64_t last_prompt_tokens_ = 0;
};

}  // namespace

Command add_chat(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "chat",
      "Chat with a model: the model's chat template, multi-turn history whose KV cache is "
      "reused, replies streamed; one message per line when stdin is not a terminal");
  add_engine_options(*cmd, a->engine);
  cmd->add_option("--chat-template", a->chat_template,
                  "The model's template by default (chatml when it has none); a built-in "
                  "(chatml, llama-2, llama-3, mistral, gemma, phi-3, zephyr) or a Jinja file");
  cmd->add_option("--system", a->system, "System message");
  cmd->add_flag("--hide-thinking", a->hide_thinking,
                "Leave out the reasoning (<think>...</think>) instead of showing it dimmed");
  cmd->add_flag("--no-context-shift", a->no_context_shift,
                "When the context is full, stop with an error instead of dropping the oldest "
                "turns");
  cmd->add_flag("-v,--verbose", a->verbose,
                "Say how each prompt was built (tokens continued from the previous turn)");
  add_generation_options(*cmd, a->generation,
                         "Most tokens per reply; 0 = a quarter of the context (1024 at 4096); "
                         "this much room is kept free for the reply");
  cmd->footer(
      "In the chat: /help, /reset, /system TEXT, /set NAME VALUE (the Generation options, "
      "e.g. /set temp 0.7), /show, /save FILE, /load FILE, /stats, /exit. Ctrl-C stops a reply "
      "(the partial reply stays in the conversation); Ctrl-D, or Ctrl-C on an empty line, "
      "exits. When the context is full the oldest turns are dropped, and said so. History: "
      "$XDG_STATE_HOME/loom/chat_history, else ~/.local/state/loom/chat_history. With stdin "
      "not a terminal: one message per line, each reply followed by an empty line.");
  return [a] {
    Chat chat(*a);
    return chat.run();
  };
}

}  // namespace loom::cli
