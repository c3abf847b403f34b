#include "cli/chat_session.h"

#include <fmt/core.h>

#include <algorithm>

namespace loom::cli {

ChatSession::ChatSession(std::shared_ptr<const Model> model, std::string template_name)
    : model_(std::move(model)), template_name_(std::move(template_name)) {}

void ChatSession::forget_tokens(const char* why) {
  ran_text_.clear();
  ran_tokens_.clear();
  why_not_ = why;
}

void ChatSession::set_system(const std::string& text) {
  const bool has_system = !messages_.empty() && messages_.front().role == "system";
  if (text.empty()) {
    if (has_system) messages_.erase(messages_.begin());
  } else if (has_system) {
    messages_.front().content = text;
  } else {
    messages_.insert(messages_.begin(), {"system", text});
  }
  forget_tokens("the system message changed");
}

void ChatSession::reset() {
  const bool has_system = !messages_.empty() && messages_.front().role == "system";
  messages_.resize(has_system ? 1 : 0);
  forget_tokens("the conversation was reset");
}

void ChatSession::replace(std::vector<ChatMessage> messages) {
  messages_ = std::move(messages);
  forget_tokens("a conversation was loaded");
}

void ChatSession::add_user(const std::string& text) {
  messages_.push_back({"user", text});
}

void ChatSession::remove_last_user() {
  if (!messages_.empty() && messages_.back().role == "user") messages_.pop_back();
}

std::vector<int32_t> ChatSession::encode_all(const std::string& text) const {
  // The template writes the special tokens itself: parse them, and add BOS (as the model's
  // metadata says) only when the template did not write it.
  const int32_t bos = model_->bos_token();
  const std::string bos_text = bos >= 0 ? model_->token_text(bos) : std::string();
  const bool add_special = bos_text.empty() || text.rfind(bos_text, 0) != 0;
  return model_->tokenize(text, add_special, /*parse_special=*/true);
}

ChatPrompt ChatSession::prompt() const {
  ChatPrompt p;
  p.text = apply_chat_template(*model_, messages_, /*add_generation_prompt=*/true, template_name_);
  if (!ran_tokens_.empty() && p.text.size() > ran_text_.size() &&
      p.text.compare(0, ran_text_.size(), ran_text_) == 0) {
    p.tokens = ran_tokens_;
    const std::vector<int32_t> added =
        model_->tokenize(std::string_view(p.text).substr(ran_text_.size()),
                         /*add_special=*/false, /*parse_special=*/true);
    p.tokens.insert(p.tokens.end(), added.begin(), added.end());
    p.continues_previous = true;
    return p;
  }
  p.tokens = encode_all(p.text);
  p.why_not = ran_tokens_.empty()
                  ? why_not_
                  : "the template renders the earlier turns differently once a message is added";
  return p;
}

void ChatSession::add_reply(const ChatPrompt& prompt, const std::string& text,
                            const std::vector<int32_t>& tokens) {
  messages_.push_back({"assistant", text});
  // The tokens stand for the history only if they spell the reply's text: not so when a
  // stop string cut the text, or an interruption left bytes held back.
  std::string spelled;
  for (int32_t token : tokens) spelled += model_->token_piece(token);
  if (spelled != text) {
    forget_tokens("the reply's tokens do not spell its text (a stop string or an interruption)");
    return;
  }
  ran_text_ = prompt.text + text;
  ran_tokens_ = prompt.tokens;
  ran_tokens_.insert(ran_tokens_.end(), tokens.begin(), tokens.end());
}

std::optional<std::string> ChatSession::drop_oldest_turn() {
  const size_t first = !messages_.empty() && messages_.front().role == "system" ? 1 : 0;
  // The last user message is the turn being answered: it stays.
  size_t last_user = messages_.size();
  for (size_t i = messages_.size(); i-- > first;) {
    if (messages_[i].role == "user") {
      last_user = i;
      break;
    }
  }
  if (last_user == messages_.size() || last_user <= first) return std::nullopt;
  std::string dropped = messages_[first].content;
  size_t end = first + 1;
  if (end < last_user && messages_[end].role == "assistant") ++end;
  messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(first),
                  messages_.begin() + static_cast<std::ptrdiff_t>(end));
  forget_tokens("the oldest turns were dropped to fit the context");
  return dropped;
}

int ChatSession::turns() const {
  return static_cast<int>(std::count_if(messages_.begin(), messages_.end(),
                                        [](const ChatMessage& m) { return m.role == "user"; }));
}

}  // namespace loom::cli
