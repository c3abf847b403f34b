// A chat conversation and the prompt tokens of its next reply.
//
// Each turn's prompt starts with exactly the tokens the previous turn ran (its prompt,
// then the reply's generated tokens) and adds only the tokens of the template text that
// follows the reply, so the engine's prefix cache finds the whole conversation so far and
// a turn computes only its new tokens. The reply's sampled tokens are kept, not re-encoded:
// encoding the reply's text may give other tokens, which would miss the cache from there.
// When the template renders the earlier turns differently once a message is added (some
// rewrite past replies, e.g. drop their reasoning), the whole prompt is encoded instead.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loom/chat.h"
#include "loom/loom.h"

namespace loom::cli {

struct ChatPrompt {
  std::string text;             // the rendered conversation, ending with the generation prompt
  std::vector<int32_t> tokens;  // what to submit
  // The tokens start with the previous turn's prompt and reply tokens.
  bool continues_previous = false;
  std::string why_not;  // when not: why the whole prompt was encoded
};

class ChatSession {
 public:
  // template_name as loom::apply_chat_template takes it ("" = the model's, or chatml).
  ChatSession(std::shared_ptr<const Model> model, std::string template_name);

  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Sets, replaces or (with "") removes the system message, keeping the turns.
  void set_system(const std::string& text);
  // Forgets the turns, keeping the system message.
  void reset();
  // Replaces the whole conversation (a loaded transcript).
  void replace(std::vector<ChatMessage> messages);

  void add_user(const std::string& text);
  // Takes back the last user message (its reply could not be generated).
  void remove_last_user();
  // The prompt for a reply to the conversation (which ends with a user message).
  ChatPrompt prompt() const;
  // Records the reply to `prompt`: its text (what the history keeps) and generated tokens.
  void add_reply(const ChatPrompt& prompt, const std::string& text,
                 const std::vector<int32_t>& tokens);
  // Drops the oldest user message and its reply, never the system message or the last
  // user message, and returns the user message; nothing when there is no such turn.
  std::optional<std::string> drop_oldest_turn();
  // The user turns in the conversation.
  int turns() const;

 private:
  std::vector<int32_t> encode_all(const std::string& text) const;
  void forget_tokens(const char* why);

  std::shared_ptr<const Model> model_;
  std::string template_name_;
  std::vector<ChatMessage> messages_;
  // The last turn as it ran: its rendered prompt followed by the reply text, and the
  // tokens submitted followed by the reply's tokens. Empty when the next prompt is new.
  std::string ran_text_;
  std::vector<int32_t> ran_tokens_;
  std::string why_not_ = "the first turn";
};

}  // namespace loom::cli
