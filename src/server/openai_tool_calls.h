// Tool calling in the OpenAI protocol: the request's `tools`, `tool_choice`,
// `parallel_tool_calls` and the history's tool_calls / tool messages, and the reply's
// `message.tool_calls` (whole) or `delta.tool_calls` (streamed). The model's text is split
// into content and calls by loom::ToolCallParser, after the reasoning split.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loom/chat.h"

namespace loom::server {

struct ToolRequest {
  std::string tools_json;  // the `tools` array, keys in the request's order; "" = none
  ToolCalling calling;     // format: set from the template when the prompt is rendered

  // Whether replies are parsed for calls (tools given and tool_choice not "none").
  bool active() const { return !tools_json.empty() && calling.choice != ToolChoice::kNone; }
};

// Parses tools, tool_choice and parallel_tool_calls of a chat body (`raw` is its text,
// read again to keep the schemas' key order). Throws ApiError naming the field.
ToolRequest parse_tool_request(const nlohmann::json& body, const std::string& raw);

// The tool_calls of an assistant message and the tool_call_id / name of a tool message
// at messages[index]. Throws ApiError naming the field.
void parse_message_tools(const nlohmann::json& message, size_t index, ChatMessage& out);

// OpenAI's tool_calls array; `with_index` for streamed deltas (index = first + i).
nlohmann::json tool_calls_json(const std::vector<ToolCall>& calls, bool with_index = false,
                               int first = 0);

// A whole reply's chat choice: its content split into content and tool_calls
// (finish_reason "tool_calls" when there are calls, content null when there is only them).
void add_tool_calls(nlohmann::json& choice, ToolCallFormat format);

// One streamed choice: its content goes through the parser; each completed call becomes two
// delta.tool_calls entries, {index, id, type, function: {name, arguments: ""}} and then
// {index, function: {arguments}}.
class ToolCallStream {
 public:
  explicit ToolCallStream(ToolCallFormat format) : parser_(format) {}

  struct Out {
    std::string content;                                  // content that is safe to show now
    nlohmann::json tool_calls = nlohmann::json::array();  // delta entries, in order
  };
  Out push(std::string_view text, bool finished);
  bool made_calls() const { return n_calls_ > 0; }

 private:
  ToolCallParser parser_;
  int n_calls_ = 0;
};

}  // namespace loom::server
