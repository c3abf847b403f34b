// loom/chat.h: the tool-call family of a template, and call ids.
#include <random>

#include "chat/tool_template.h"
#include "loom/chat.h"

namespace loom {

const char* to_string(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kLlama3:
      return "llama3";
    case ToolCallFormat::kMistral:
      return "mistral";
    case ToolCallFormat::kGeneric:
      break;
  }
  return "generic";
}

ToolCallFormat tool_call_format(std::string_view template_source) {
  switch (chat::detect_tool_format(template_source)) {
    case chat::ToolFormat::kHermes:
      return ToolCallFormat::kHermes;
    case chat::ToolFormat::kLlama3:
      return ToolCallFormat::kLlama3;
    case chat::ToolFormat::kMistral:
      return ToolCallFormat::kMistral;
    case chat::ToolFormat::kGeneric:
      break;
  }
  return ToolCallFormat::kGeneric;
}

// Mistral's templates refuse ids that are not 9 letters and digits; others take OpenAI's.
std::string new_tool_call_id(ToolCallFormat format) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const bool mistral = format == ToolCallFormat::kMistral;
  std::string id = mistral ? "" : "call_";
  for (int i = 0; i < (mistral ? 9 : 24); ++i) id += kChars[rng() % (sizeof(kChars) - 1)];
  return id;
}

}  // namespace loom
