#include "cli/chat_reply.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "cli/interrupt.h"
#include "cli/think_filter.h"

namespace loom::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kDim = "\x1b[2m";
constexpr std::string_view kUndim = "\x1b[22m";

// What the engine's thread hands to the main thread. Shared, so that events of a cancelled
// request that arrive after the main thread moved on land somewhere harmless.
struct Mailbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<TokenEvent> events;
  std::optional<Completion> completion;
  std::optional<std::string> error;
};

// Writes the visible part of the reply: reasoning dimmed, between tags, or left out; the
// whitespace before the first visible character dropped (SentencePiece's leading space, the
// blank line after hidden reasoning).
class ReplyPrinter {
 public:
  ReplyPrinter(const ReplyDisplay& display, std::FILE* out)
      : display_(display), out_(out), filter_(display.starts_thinking) {}

  void print(std::string_view text) {
    for (const ThinkFilter::Piece& piece : filter_.push(text)) emit(piece);
    std::fflush(out_);
  }

  void finish() {
    for (const ThinkFilter::Piece& piece : filter_.flush()) emit(piece);
    set_thinking(false);
    std::fflush(out_);
  }

 private:
  void emit(const ThinkFilter::Piece& piece) {
    if (piece.thinking && display_.hide_thinking) return;
    std::string_view text = piece.text;
    if (!started_) {
      const size_t first = text.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos) return;
      text.remove_prefix(first);
      started_ = true;
    }
    set_thinking(piece.thinking);
    write(text);
  }

  void set_thinking(bool thinking) {
    if (thinking == shown_thinking_) return;
    shown_thinking_ = thinking;
    if (display_.colour) {
      write(thinking ? kDim : kUndim);
    } else {
      write(thinking ? "<think>" : "</think>");
    }
  }

  void write(std::string_view text) { std::fwrite(text.data(), 1, text.size(), out_); }

  ReplyDisplay display_;
  std::FILE* out_;
  ThinkFilter filter_;
  bool started_ = false;
  bool shown_thinking_ = false;
};

double seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

Reply stream_reply(Engine& engine, const Request& request, const ReplyDisplay& display,
                   std::FILE* out) {
  auto mailbox = std::make_shared<Mailbox>();
  RequestCallbacks callbacks;
  callbacks.on_token = [mailbox](const TokenEvent& event) {
    std::lock_guard lock(mailbox->mutex);
    mailbox->events.push_back(event);
    mailbox->changed.notify_one();
  };
  callbacks.on_done = [mailbox](Completion completion) {
    std::lock_guard lock(mailbox->mutex);
    mailbox->completion = std::move(completion);
    mailbox->changed.notify_one();
  };
  callbacks.on_error = [mailbox](const std::string& message) {
    std::lock_guard lock(mailbox->mutex);
    mailbox->error = message;
    mailbox->changed.notify_one();
  };

  const Clock::time_point submitted = Clock::now();
  Clock::time_point first_token{};
  Clock::time_point last_token{};
  const RequestId id = engine.submit(request, std::move(callbacks));
  Reply reply;
  ReplyPrinter printer(display, out);
  std::deque<TokenEvent> events;
  for (;;) {
    bool ended = false;
    {
      std::unique_lock lock(mailbox->mutex);
      // Ctrl-C is a flag set by the signal handler: look at it a few times a second.
      mailbox->changed.wait_for(lock, std::chrono::milliseconds(50), [&] {
        return !mailbox->events.empty() || mailbox->completion || mailbox->error ||
               interrupt_pending();
      });
      events.swap(mailbox->events);
      ended = mailbox->completion || mailbox->error;
      if (mailbox->error) reply.error = *mailbox->error;
      if (mailbox->completion) {
        reply.finish_reason = mailbox->completion->first().finish_reason;
        reply.timings = mailbox->completion->timings;
      }
    }
    for (const TokenEvent& event : events) {
      if (event.index != 0) continue;
      if (event.token >= 0) {
        reply.tokens.push_back(event.token);
        last_token = Clock::now();
        if (reply.tokens.size() == 1) first_token = last_token;
      }
      reply.text += event.text;
      printer.print(event.text);
    }
    events.clear();
    if (ended) break;
    if (take_interrupt()) {
      // The reply keeps the tokens received so far: a prefix of what the engine ran.
      engine.cancel(id);
      reply.interrupted = true;
      break;
    }
  }
  printer.finish();
  if (!reply.tokens.empty()) {
    reply.time_to_first_token_s = seconds(submitted, first_token);
    const double decode_s = seconds(first_token, last_token);
    if (reply.tokens.size() > 1 && decode_s > 0) {
      reply.decode_tokens_per_s = static_cast<double>(reply.tokens.size() - 1) / decode_s;
    }
  }
  return reply;
}

}  // namespace loom::cli
