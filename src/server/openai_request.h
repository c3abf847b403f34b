// Parsing and validation of OpenAI request bodies (/v1/chat/completions, /v1/completions)
// into a loom::Request. Every decoding control is accepted under its OpenAI name and, where
// OpenAI has none, its llama.cpp/vLLM name. Unknown fields are ignored; a known field with
// a wrong type or an out-of-range value is an ApiError (400) naming the field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "loom/chat.h"
#include "loom/fill_in_middle.h"
#include "loom/loom.h"
#include "loom/reasoning.h"
#include "server/openai_tool_calls.h"

namespace loom::server {

struct ParseLimits {
  int32_t max_n = 16;     // most choices (n, best_of, beams) a request may ask for
  int32_t draft_max = 0;  // most draft tokens per step a request may ask for (the engine's)
  int32_t n_vocab = 0;    // logit_bias keys must be below this
  int32_t max_logprobs = 20;
  ReasoningFormat reasoning_format = ReasoningFormat::kDeepSeek;  // the server's default
};

struct GenerationRequest {
  bool chat = false;
  std::string model;
  std::vector<ChatMessage> messages;  // chat
  bool add_generation_prompt = true;
  std::string chat_template;  // per-request override (chat_template field)
  bool echo = false;          // completions: prompt text before the completion
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // return logprobs (chat: logprobs, completions: logprobs >= 0)
  bool max_tokens_given = false;
  // Chat: how the reply's <think>…</think> is reported (reasoning_format, else the
  // server's default); whether the rendered prompt already opened the block.
  ReasoningFormat reasoning_format = ReasoningFormat::kNone;
  bool prompt_opens_reasoning = false;
  // Fill-in-the-middle: /v1/completions with `suffix`, or /infill. The prompt tokens are
  // built from the model's FIM tokens when the prompt is prepared.
  std::optional<FimInput> fim;
  bool infill = false;  // /infill: responses also carry llama.cpp's top-level "content"
  ToolRequest tools;    // chat: tools, tool_choice, parallel_tool_calls
  Request request;      // prompt / prompt_tokens filled for completions
};

// Throws ApiError. `body` is the raw request body (malformed JSON is a 400 too).
GenerationRequest parse_generation_request(const std::string& body, bool chat,
                                           const ParseLimits& limits);

// POST /infill as llama.cpp's server takes it: input_prefix, input_suffix (required),
// input_extra ([{"filename", "text"}]), prompt (the start of the middle), and every
// option of /v1/completions. Throws ApiError naming the field.
GenerationRequest parse_infill_request(const std::string& body, const ParseLimits& limits);

// Parses JSON or throws ApiError 400 naming the position of the syntax error.
nlohmann::json parse_json_body(const std::string& body);

}  // namespace loom::server
