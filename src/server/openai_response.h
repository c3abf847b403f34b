// Building OpenAI response bodies: whole completions, streaming chunks, usage, logprobs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "loom/loom.h"
#include "server/openai_request.h"

namespace loom::server {

// What every object of one response shares.
struct ResponseContext {
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
  bool chat = false;
  const Model* vocab = nullptr;  // token pieces for logprobs
};

ResponseContext make_context(bool chat, const std::string& model, const Model& vocab);

// Serialises for the wire; bytes that are not valid UTF-8 (a token piece in logprobs)
// become U+FFFD instead of failing.
std::string dump(const nlohmann::json& value);

nlohmann::json usage_json(const Timings& timings);
nlohmann::json timings_json(const Timings& timings);

// Whole response of a non-streaming request. `prompt_text` is prepended for echo.
nlohmann::json completion_json(const ResponseContext& ctx, const GenerationRequest& request,
                               const Completion& completion, const std::string& prompt_text);

// One token's logprobs: the chat form ({"token","logprob","bytes","top_logprobs"}).
nlohmann::json chat_logprob(const Model& vocab, const TokenLogprob& lp);

// Accumulates the completions (legacy) logprobs form of one choice.
struct TextLogprobs {
  nlohmann::json tokens = nlohmann::json::array();
  nlohmann::json token_logprobs = nlohmann::json::array();
  nlohmann::json top_logprobs = nlohmann::json::array();
  nlohmann::json text_offset = nlohmann::json::array();
  void add(const Model& vocab, const TokenLogprob& lp, int64_t offset);
  nlohmann::json to_json() const;
};

// A streaming chunk for choice `index`. Chat: `delta` is the delta object; completions:
// `text` is the text. `finish_reason` empty = null; `logprobs` null = omitted value null.
nlohmann::json chunk_json(const ResponseContext& ctx, int32_t index, const nlohmann::json& delta,
                          const std::string& text, const std::string& finish_reason,
                          const nlohmann::json& logprobs);

// The usage-only chunk sent last when stream_options.include_usage is set.
nlohmann::json usage_chunk_json(const ResponseContext& ctx, const Timings& timings);

}  // namespace loom::server
