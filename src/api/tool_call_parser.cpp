// loom/chat.h ToolCallParser: one incremental machine per reply, so a streamed reply and
// a whole one split the same way. Content is released as soon as it cannot start a call;
// a call's text is held until it is complete, then parsed (a malformed one is released as
// the content it was). Whitespace next to calls is dropped: content is held back while it
// ends in whitespace.
#include <nlohmann/json.hpp>
#include <optional>

#include "loom/chat.h"

namespace loom {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kSpaces = " \t\r\n";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpaces) - first + 1);
}

// Length of the longest end of `text` that is a proper beginning of `word` (a word that
// may still be coming).
size_t partial_suffix(std::string_view text, std::string_view word) {
  for (size_t n = std::min(text.size(), word.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == word.substr(0, n)) return n;
  }
  return 0;
}

std::optional<Json> parse_json(std::string_view text) {
  try {
    return Json::parse(text);
  } catch (const Json::exception&) {  // parse_error, or out_of_range (1e999)
    return std::nullopt;
  }
}

// {"name": "...", "arguments"|"parameters": {...}}: the arguments may be an object or a
// string holding one.
std::optional<ToolCall> call_from_json(const Json& j, ToolCallFormat format) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  Json arguments = Json::object();
  for (const char* key : {"arguments", "parameters"}) {
    if (!j.contains(key)) continue;
    arguments = j[key];
    if (arguments.is_string()) {
      auto parsed = parse_json(arguments.get<std::string>());
      if (!parsed) return std::nullopt;
      arguments = *parsed;
    }
    break;
  }
  if (!arguments.is_object()) return std::nullopt;
  return ToolCall{new_tool_call_id(format), j["name"].get<std::string>(), arguments.dump()};
}

std::optional<std::vector<ToolCall>> calls_from_array(const Json& j, ToolCallFormat format) {
  if (!j.is_array() || j.empty()) return std::nullopt;
  std::vector<ToolCall> calls;
  for (const Json& item : j) {
    auto call = call_from_json(item, format);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
  }
  return calls;
}

}  // namespace

struct ToolCallParser::Impl {
  ToolCallFormat format;
  std::string buffer;      // text not yet released
  std::string held_space;  // trailing whitespace of released content
  bool after_call = false;
  bool decided = false;  // start-only formats: whether the reply may be a call is known
  bool whole = false;    // the rest of the reply is held to the end and parsed then
  int n_calls = 0;

  void content(Delta& out, std::string_view text) {
    if (after_call) {
      const size_t first = text.find_first_not_of(kSpaces);
      if (first == std::string_view::npos) return;
      text.remove_prefix(first);
      after_call = false;
    }
    const size_t last = text.find_last_not_of(kSpaces);
    if (last == std::string_view::npos) {
      held_space += text;
      return;
    }
    out.content += held_space;
    out.content += text.substr(0, last + 1);
    held_space = std::string(text.substr(last + 1));
  }

  void calls(Delta& out, std::vector<ToolCall> made) {
    held_space.clear();
    after_call = true;
    n_calls += static_cast<int>(made.size());
    for (ToolCall& call : made) out.calls.push_back(std::move(call));
  }

  void release(Delta& out, size_t n) {
    content(out, std::string_view(buffer).substr(0, n));
    buffer.erase(0, n);
  }

  void hermes(Delta& out, bool at_end) {
    for (;;) {
      const size_t open = buffer.find(kHermesOpen);
      if (open == std::string::npos) {
        release(out, buffer.size() - (at_end ? 0 : partial_suffix(buffer, kHermesOpen)));
        return;
      }
      release(out, open);
      size_t close = buffer.find(kHermesClose);
      if (close == std::string::npos && !at_end) return;
      // A last call without its closing tag (the reply ended after the JSON) still counts.
      const size_t body_end = close == std::string::npos ? buffer.size() : close;
      const size_t block_end =
          close == std::string::npos ? buffer.size() : close + kHermesClose.size();
      auto j = parse_json(
          trim(std::string_view(buffer).substr(kHermesOpen.size(), body_end - kHermesOpen.size())));
      std::optional<ToolCall> call = j ? call_from_json(*j, format) : std::nullopt;
      if (call) {
        calls(out, {std::move(*call)});
        buffer.erase(0, block_end);
      } else {
        release(out, block_end);
      }
    }
  }

  // Llama 3 and generic: the reply is either a call (as a whole) or content.
  void start_only(Delta& out, bool at_end) {
    if (!decided) {
      const size_t lead = buffer.find_first_not_of(kSpaces);
      const std::string_view rest =
          lead == std::string::npos ? std::string_view() : std::string_view(buffer).substr(lead);
      const bool tag = format == ToolCallFormat::kLlama3;
      if (!rest.empty() &&
          (rest[0] == '{' || (tag && rest.substr(0, kPythonTag.size()) == kPythonTag))) {
        decided = whole = true;
      } else if (!at_end && (rest.empty() || (tag && kPythonTag.substr(0, rest.size()) == rest))) {
        return;  // not known yet
      } else {
        decided = true;
      }
    }
    if (!whole) {
      release(out, buffer.size());
      return;
    }
    if (!at_end) return;
    std::string_view text = trim(buffer);
    if (text.substr(0, kPythonTag.size()) == kPythonTag)
      text = trim(text.substr(kPythonTag.size()));
    std::optional<std::vector<ToolCall>> made;
    if (auto j = parse_json(text)) {
      if (format == ToolCallFormat::kLlama3) {
        if (auto call = call_from_json(*j, format)) made = std::vector<ToolCall>{std::move(*call)};
      } else if (j->is_object() && j->size() == 1 && j->contains("tool_calls")) {
        made = calls_from_array((*j)["tool_calls"], format);
      }
    }
    if (made) {
      calls(out, std::move(*made));
      buffer.clear();
    } else {
      release(out, buffer.size());
    }
  }

  // [TOOL_CALLS][...] anywhere, or a bare array as the whole reply (when [TOOL_CALLS] is
  // a control token, it is not in the text).
  void mistral(Delta& out, bool at_end) {
    if (!whole) {
      const size_t open = buffer.find(kMistralOpen);
      if (open != std::string::npos) {
        release(out, open);
        whole = true;
      } else {
        const size_t lead = buffer.find_first_not_of(kSpaces);
        if (!decided && lead != std::string::npos) {
          const std::string_view rest = std::string_view(buffer).substr(lead);
          if (!at_end && kMistralOpen.substr(0, rest.size()) == rest) return;  // may be the tag
          decided = true;
          whole = rest[0] == '[';
        }
        if (!whole) {
          release(out, buffer.size() - (at_end ? 0 : partial_suffix(buffer, kMistralOpen)));
          return;
        }
      }
    }
    if (!at_end) return;
    std::string_view text = trim(buffer);
    if (text.substr(0, kMistralOpen.size()) == kMistralOpen)
      text = trim(text.substr(kMistralOpen.size()));
    std::optional<std::vector<ToolCall>> made;
    if (auto j = parse_json(text)) made = calls_from_array(*j, format);
    if (made) {
      calls(out, std::move(*made));
      buffer.clear();
    } else {
      release(out, buffer.size());
    }
  }

  Delta run(bool at_end) {
    Delta out;
    switch (format) {
      case ToolCallFormat::kHermes:
        hermes(out, at_end);
        break;
      case ToolCallFormat::kMistral:
        mistral(out, at_end);
        break;
      case ToolCallFormat::kLlama3:
      case ToolCallFormat::kGeneric:
        start_only(out, at_end);
        break;
    }
    if (at_end && n_calls == 0) out.content += held_space;
    if (at_end) held_space.clear();
    return out;
  }
};

ToolCallParser::ToolCallParser(ToolCallFormat format) : impl_(std::make_unique<Impl>()) {
  impl_->format = format;
}
ToolCallParser::~ToolCallParser() = default;
ToolCallParser::ToolCallParser(ToolCallParser&&) noexcept = default;
ToolCallParser& ToolCallParser::operator=(ToolCallParser&&) noexcept = default;

ToolCallParser::Delta ToolCallParser::push(std::string_view text) {
  impl_->buffer += text;
  return impl_->run(false);
}

ToolCallParser::Delta ToolCallParser::finish() {
  return impl_->run(true);
}

int ToolCallParser::calls_so_far() const {
  return impl_->n_calls;
}

ToolCallParser::Delta parse_tool_calls(std::string_view text, ToolCallFormat format) {
  ToolCallParser parser(format);
  ToolCallParser::Delta whole = parser.push(text);
  ToolCallParser::Delta rest = parser.finish();
  whole.content += rest.content;
  for (ToolCall& call : rest.calls) whole.calls.push_back(std::move(call));
  return whole;
}

}  // namespace loom
