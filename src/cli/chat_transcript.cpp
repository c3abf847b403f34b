#include "cli/chat_transcript.h"

#include <fmt/core.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/generation_options.h"
#include "loom/error.h"

namespace loom::cli {

std::string transcript_to_json(const std::vector<ChatMessage>& messages) {
  nlohmann::json out = nlohmann::json::array();
  for (const ChatMessage& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  // Invalid UTF-8 (a reply cut inside a character) is written as U+FFFD, not refused.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::vector<ChatMessage> transcript_from_json(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (1e999)
    throw Error(fmt::format("not JSON: {}", e.what()));
  }
  if (!doc.is_array()) {
    throw Error("expected an array of messages [{\"role\": ..., \"content\": ...}, ...]");
  }
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& m = doc[i];
    if (!m.is_object()) throw Error(fmt::format("message {} is not an object", i));
    if (!m.contains("role") || !m["role"].is_string()) {
      throw Error(fmt::format("message {} has no string \"role\"", i));
    }
    if (!m.contains("content") || !m["content"].is_string()) {
      throw Error(fmt::format("message {} has no string \"content\"", i));
    }
    const std::string role = m["role"];
    const bool first_turn = messages.empty() || messages.back().role == "system";
    const std::string expected =
        first_turn || messages.back().role == "assistant" ? "user" : "assistant";
    const bool system_ok = role == "system" && messages.empty();
    if (!system_ok && role != expected) {
      throw Error(fmt::format(
          "message {} has role \"{}\", expected \"{}\"{}", i, role, expected,
          role == "system" ? " (a system message may only come first)"
                           : " (user and assistant messages alternate, from a user message)"));
    }
    messages.push_back({role, m["content"]});
  }
  if (!messages.empty() && messages.back().role == "user") {
    throw Error("the last message is a user message without a reply; end with an assistant one");
  }
  return messages;
}

void save_transcript(const std::string& path, const std::vector<ChatMessage>& messages) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << transcript_to_json(messages);
  out.close();
  if (!out) throw Error(fmt::format("cannot write '{}'", path));
}

std::vector<ChatMessage> load_transcript(const std::string& path) {
  const std::string text = read_text_file(path, "conversation file");
  try {
    return transcript_from_json(text);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace loom::cli
