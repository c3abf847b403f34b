#include "server/openai_response.h"

#include <fmt/format.h>

#include <chrono>
#include <random>

namespace loom::server {

using nlohmann::json;

ResponseContext make_context(bool chat, const std::string& model, const Model& vocab) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  ResponseContext ctx;
  ctx.chat = chat;
  ctx.id = fmt::format("{}-{:016x}", chat ? "chatcmpl" : "cmpl", rng());
  ctx.created = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  ctx.model = model;
  ctx.vocab = &vocab;
  return ctx;
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage_json(const Timings& t) {
  return {{"prompt_tokens", t.prompt_tokens},
          {"completion_tokens", t.generated_tokens},
          {"total_tokens", t.prompt_tokens + t.generated_tokens},
          {"prompt_tokens_details", {{"cached_tokens", t.cached_prompt_tokens}}}};
}

json timings_json(const Timings& t) {
  return {{"prompt_tokens", t.prompt_tokens},
          {"cached_prompt_tokens", t.cached_prompt_tokens},
          {"generated_tokens", t.generated_tokens},
          {"queue_ms", t.queue_s * 1e3},
          {"time_to_first_token_ms", t.time_to_first_token_s * 1e3},
          {"decode_ms", t.decode_s * 1e3},
          {"prefill_tokens_per_second", t.prefill_tokens_per_s},
          {"decode_tokens_per_second", t.decode_tokens_per_s},
          {"draft_tokens", t.draft_tokens},
          {"draft_accepted", t.draft_accepted}};
}

namespace {

json bytes_of(const std::string& piece) {
  json bytes = json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return bytes;
}

}  // namespace

// Besides OpenAI's fields, each entry carries the token's `id` (as llama.cpp's server
// does): logit_bias is keyed by id, and pieces alone can be ambiguous.
json chat_logprob(const Model& vocab, const TokenLogprob& lp) {
  json top = json::array();
  for (const auto& [token, logprob] : lp.top) {
    const std::string piece = vocab.token_piece(token);
    top.push_back(
        {{"id", token}, {"token", piece}, {"logprob", logprob}, {"bytes", bytes_of(piece)}});
  }
  return {{"id", lp.token},
          {"token", lp.bytes},
          {"logprob", lp.logprob},
          {"bytes", bytes_of(lp.bytes)},
          {"top_logprobs", top}};
}

void TextLogprobs::add(const Model& vocab, const TokenLogprob& lp, int64_t offset) {
  tokens.push_back(lp.bytes);
  token_logprobs.push_back(lp.logprob);
  json top = json::object();
  for (const auto& [token, logprob] : lp.top) top[vocab.token_piece(token)] = logprob;
  top_logprobs.push_back(top);
  text_offset.push_back(offset);
}

json TextLogprobs::to_json() const {
  return {{"tokens", tokens},
          {"token_logprobs", token_logprobs},
          {"top_logprobs", top_logprobs},
          {"text_offset", text_offset}};
}

json completion_json(const ResponseContext& ctx, const GenerationRequest& request,
                     const Completion& completion, const std::string& prompt_text) {
  json choices = json::array();
  for (const Choice& choice : completion.choices) {
    json out = {{"index", choice.index}, {"finish_reason", to_string(choice.finish_reason)}};
    // vLLM's choice-level field; "timeout": the request's deadline ended it.
    if (choice.timed_out) out["stop_reason"] = "timeout";
    json logprobs = nullptr;
    if (ctx.chat) {
      out["message"] = {{"role", "assistant"}, {"content", choice.text}};
      if (request.reasoning_format != ReasoningFormat::kNone) {
        const ReasoningText text = split_reasoning(choice.text, request.prompt_opens_reasoning);
        out["message"]["content"] = text.content;
        if (!text.reasoning.empty()) out["message"]["reasoning_content"] = text.reasoning;
      }
      // Tool calls are parsed from the content, after the reasoning split.
      if (request.tools.active()) add_tool_calls(out, request.tools.calling.format);
      if (request.logprobs) {
        json content = json::array();
        for (const TokenLogprob& lp : choice.logprobs)
          content.push_back(chat_logprob(*ctx.vocab, lp));
        logprobs = {{"content", content}};
      }
    } else {
      const std::string prefix = request.echo ? prompt_text : std::string();
      out["text"] = prefix + choice.text;
      if (request.logprobs) {
        TextLogprobs text_logprobs;
        int64_t offset = static_cast<int64_t>(prefix.size());
        for (const TokenLogprob& lp : choice.logprobs) {
          text_logprobs.add(*ctx.vocab, lp, offset);
          offset += static_cast<int64_t>(lp.bytes.size());
        }
        logprobs = text_logprobs.to_json();
      }
    }
    out["logprobs"] = logprobs;
    choices.push_back(out);
  }
  return {{"id", ctx.id},
          {"object", ctx.chat ? "chat.completion" : "text_completion"},
          {"created", ctx.created},
          {"model", ctx.model},
          {"system_fingerprint", "loom-0.1.0"},
          {"choices", choices},
          {"usage", usage_json(completion.timings)},
          {"seed", completion.seed},
          {"timings", timings_json(completion.timings)}};
}

json chunk_json(const ResponseContext& ctx, int32_t index, const json& delta,
                const std::string& text, const std::string& finish_reason, const json& logprobs) {
  json choice = {{"index", index}};
  if (ctx.chat) {
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = finish_reason.empty() ? json() : json(finish_reason);
  return {{"id", ctx.id},
          {"object", ctx.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", ctx.created},
          {"model", ctx.model},
          {"system_fingerprint", "loom-0.1.0"},
          {"choices", json::array({choice})}};
}

json usage_chunk_json(const ResponseContext& ctx, const Timings& timings) {
  return {{"id", ctx.id},
          {"object", ctx.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", ctx.created},
          {"model", ctx.model},
          {"system_fingerprint", "loom-0.1.0"},
          {"choices", json::array()},
          {"usage", usage_json(timings)},
          {"timings", timings_json(timings)}};
}

}  // namespace loom::server
