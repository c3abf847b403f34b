// See openai_request.h. Field names and ranges follow the OpenAI API reference; where
// OpenAI has no name for a control, llama.cpp's and vLLM's names are accepted.
#include "server/openai_request.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "server/api_error.h"

namespace loom::server {
namespace {

using nlohmann::json;

const char* type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

[[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& value) {
  throw bad_field(field, fmt::format("'{}' must be {}, got {}", field, expected, type_name(value)));
}

// The value of `field`, or nullptr when absent or null (null means "default" in OpenAI).
const json* find(const json& object, const std::string& field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> get_number(const json& object, const std::string& field) {
  const json* value = find(object, field);
  if (!value) return std::nullopt;
  if (!value->is_number()) wrong_type(field, "a number", *value);
  const double number = value->get<double>();
  if (!std::isfinite(number)) throw bad_field(field, fmt::format("'{}' must be finite", field));
  return number;
}

std::optional<int64_t> get_int(const json& object, const std::string& field) {
  const json* value = find(object, field);
  if (!value) return std::nullopt;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    const double number = value->get<double>();
    if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 9e15) {
      return static_cast<int64_t>(number);
    }
  }
  wrong_type(field, "an integer", *value);
}

std::optional<bool> get_bool(const json& object, const std::string& field) {
  const json* value = find(object, field);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) wrong_type(field, "a boolean", *value);
  return value->get<bool>();
}

std::optional<std::string> get_string(const json& object, const std::string& field) {
  const json* value = find(object, field);
  if (!value) return std::nullopt;
  if (!value->is_string()) wrong_type(field, "a string", *value);
  return value->get<std::string>();
}

void require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw bad_field(field, fmt::format("'{}' {}", field, message));
}

// The first of `names` present in `object` (aliases of one control).
std::string pick(const json& object, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (find(object, name)) return name;
  }
  return *names.begin();
}

std::string message_content(const json& message, size_t index) {
  const std::string field = fmt::format("messages[{}].content", index);
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) wrong_type(field, "a string or an array of content parts", *it);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    const std::string part_field = fmt::format("{}[{}]", field, i);
    if (!part.is_object()) wrong_type(part_field, "an object", part);
    const std::optional<std::string> type = get_string(part, "type");
    if (type != "text") {
      throw bad_field(part_field + ".type",
                      fmt::format("'{}.type' must be \"text\" (this model reads only text), got {}",
                                  part_field, type ? "\"" + *type + "\"" : "nothing"));
    }
    const json* part_text = find(part, "text");
    if (!part_text || !part_text->is_string()) {
      throw bad_field(part_field + ".text", fmt::format("'{}.text' must be a string", part_field));
    }
    text += part_text->get<std::string>();
  }
  return text;
}

void parse_messages(const json& body, GenerationRequest& out) {
  const json* messages = find(body, "messages");
  if (!messages) throw bad_field("messages", "'messages' is required");
  if (!messages->is_array()) wrong_type("messages", "an array", *messages);
  require(!messages->empty(), "messages", "must contain at least one message");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    const std::string field = fmt::format("messages[{}]", i);
    if (!message.is_object()) wrong_type(field, "an object", message);
    const json* role = find(message, "role");
    if (!role) throw bad_field(field + ".role", fmt::format("'{}.role' is required", field));
    if (!role->is_string()) wrong_type(field + ".role", "a string", *role);
    const std::string role_name = role->get<std::string>();
    static const char* kRoles[] = {"system", "user", "assistant", "tool", "developer", "function"};
    bool known = false;
    for (const char* r : kRoles) known = known || role_name == r;
    if (!known) {
      throw bad_field(field + ".role",
                      fmt::format("'{}.role' must be one of system, user, assistant, tool, "
                                  "developer; got \"{}\"",
                                  field, role_name));
    }
    ChatMessage parsed{role_name, message_content(message, i)};
    parse_message_tools(message, i, parsed);
    out.messages.push_back(std::move(parsed));
  }
}

void parse_prompt(const json& body, GenerationRequest& out) {
  const json* prompt = find(body, "prompt");
  if (!prompt) throw bad_field("prompt", "'prompt' is required");
  auto token_array = [&](const json& array, const std::string& field) {
    std::vector<int32_t> tokens;
    for (const json& t : array) {
      if (!t.is_number_integer()) wrong_type(field, "a string or an array of token ids", t);
      tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    return tokens;
  };
  if (prompt->is_string()) {
    out.request.prompt = prompt->get<std::string>();
  } else if (prompt->is_array()) {
    if (!prompt->empty() && (*prompt)[0].is_number()) {
      out.request.prompt_tokens = token_array(*prompt, "prompt");
    } else {
      require(prompt->size() == 1, "prompt",
              "must be one prompt; send several prompts as separate requests");
      const json& single = (*prompt)[0];
      if (single.is_string()) {
        out.request.prompt = single.get<std::string>();
      } else if (single.is_array()) {
        out.request.prompt_tokens = token_array(single, "prompt");
      } else {
        wrong_type("prompt", "a string or an array of token ids", single);
      }
    }
    if (prompt->empty() || (out.request.prompt.empty() && out.request.prompt_tokens.empty() &&
                            (*prompt)[0].is_array())) {
      throw bad_field("prompt", "'prompt' must not be an empty array");
    }
  } else {
    wrong_type("prompt", "a string or an array of token ids", *prompt);
  }
}

// OpenAI's `suffix`: the text after the completion. The prompt is then the text before
// it, and the model fills in the middle (a 400 later when it has no FIM tokens).
void parse_suffix(const json& body, GenerationRequest& out) {
  const std::optional<std::string> suffix = get_string(body, "suffix");
  if (!suffix) return;
  require(out.request.prompt_tokens.empty(), "suffix",
          "needs 'prompt' as text: a fill-in-the-middle prompt is built from texts");
  out.fim = FimInput{.prefix = out.request.prompt, .suffix = *suffix};
}

// llama.cpp's reasoning_format: "none" keeps <think>…</think> in the content.
void parse_reasoning(const json& body, const ParseLimits& limits, GenerationRequest& out) {
  out.reasoning_format = limits.reasoning_format;
  if (auto v = get_string(body, "reasoning_format")) {
    try {
      out.reasoning_format = parse_reasoning_format(*v);
    } catch (const Error& e) {
      throw bad_field("reasoning_format", e.what());
    }
  }
}

void parse_stop(const json& body, Request& request) {
  const json* stop = find(body, "stop");
  if (stop) {
    if (stop->is_string()) {
      request.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (!s.is_string()) wrong_type("stop", "a string or an array of strings", s);
        request.stop.push_back(s.get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", *stop);
    }
    require(request.stop.size() <= 16, "stop", "may hold at most 16 strings");
    for (const std::string& s : request.stop) require(!s.empty(), "stop", "must not hold \"\"");
  }
  if (const json* ids = find(body, "stop_token_ids")) {
    if (!ids->is_array()) wrong_type("stop_token_ids", "an array of token ids", *ids);
    for (const json& id : *ids) {
      if (!id.is_number_integer()) wrong_type("stop_token_ids", "an array of token ids", id);
      request.stop_tokens.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
}

void parse_logit_bias(const json& body, const ParseLimits& limits, SamplingOptions& sampling) {
  const json* bias = find(body, "logit_bias");
  if (!bias) return;
  if (!bias->is_object()) wrong_type("logit_bias", "an object mapping token ids to numbers", *bias);
  for (const auto& [key, value] : bias->items()) {
    size_t used = 0;
    long long token = -1;
    try {
      token = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || token < 0 || (limits.n_vocab > 0 && token >= limits.n_vocab)) {
      throw bad_field("logit_bias", fmt::format("'logit_bias' key \"{}\" is not a token id "
                                                "(0..{})",
                                                key, limits.n_vocab - 1));
    }
    if (!value.is_number())
      wrong_type("logit_bias", "an object mapping token ids to numbers", value);
    const double b = value.get<double>();
    require(b >= -100 && b <= 100, "logit_bias",
            fmt::format("value for token {} must be in [-100, 100], got {}", key, b));
    sampling.logit_bias[static_cast<int32_t>(token)] = static_cast<float>(b);
  }
}

void parse_sampling(const json& body, const ParseLimits& limits, GenerationRequest& out) {
  Request& r = out.request;
  SamplingOptions& s = r.sampling;
  // OpenAI's defaults (vLLM's too): plain sampling at temperature 1 unless asked otherwise.
  s.temperature = 1.0f;
  s.top_p = 1.0f;
  s.top_k = 0;
  s.min_p = 0.0f;
  if (auto v = get_number(body, "temperature")) {
    require(*v >= 0 && *v <= 2, "temperature", fmt::format("must be in [0, 2], got {}", *v));
    s.temperature = static_cast<float>(*v);
  }
  if (auto v = get_number(body, "top_p")) {
    require(*v > 0 && *v <= 1, "top_p", fmt::format("must be in (0, 1], got {}", *v));
    s.top_p = static_cast<float>(*v);
  }
  if (auto v = get_int(body, "top_k")) {
    require(*v >= -1 && *v <= (1 << 30), "top_k",
            fmt::format("must be >= 0 (or -1 = off), got {}", *v));
    s.top_k = *v < 0 ? 0 : static_cast<int32_t>(*v);
  }
  if (auto v = get_number(body, "min_p")) {
    require(*v >= 0 && *v <= 1, "min_p", fmt::format("must be in [0, 1], got {}", *v));
    s.min_p = static_cast<float>(*v);
  }
  if (auto v = get_number(body, "typical_p")) {
    require(*v > 0 && *v <= 1, "typical_p", fmt::format("must be in (0, 1], got {}", *v));
    s.typical_p = static_cast<float>(*v);
  }
  const std::string rep = pick(body, {"repetition_penalty", "repeat_penalty"});
  if (auto v = get_number(body, rep)) {
    require(*v > 0 && *v <= 10, rep, fmt::format("must be in (0, 10], got {}", *v));
    s.repetition_penalty = static_cast<float>(*v);
  }
  if (auto v = get_int(body, "repeat_last_n")) {
    require(*v >= -1 && *v <= (1 << 30), "repeat_last_n", fmt::format("must be >= -1, got {}", *v));
    s.repeat_last_n = static_cast<int32_t>(*v);
  }
  for (const char* name : {"presence_penalty", "frequency_penalty"}) {
    if (auto v = get_number(body, name)) {
      require(*v >= -2 && *v <= 2, name, fmt::format("must be in [-2, 2], got {}", *v));
      (std::string(name) == "presence_penalty" ? s.presence_penalty : s.frequency_penalty) =
          static_cast<float>(*v);
    }
  }
  parse_logit_bias(body, limits, s);
  if (auto v = get_int(body, "seed")) s.seed = static_cast<uint64_t>(*v);
}

void parse_choices(const json& body, const ParseLimits& limits, GenerationRequest& out) {
  Request& r = out.request;
  if (auto v = get_int(body, "n")) {
    require(*v >= 1 && *v <= limits.max_n, "n",
            fmt::format("must be in [1, {}], got {}", limits.max_n, *v));
    r.n = static_cast<int32_t>(*v);
  }
  if (auto v = get_int(body, "best_of")) {
    require(*v >= r.n && *v <= limits.max_n, "best_of",
            fmt::format("must be in [n, {}] (n = {}), got {}", limits.max_n, r.n, *v));
    r.best_of = static_cast<int32_t>(*v) == r.n ? 0 : static_cast<int32_t>(*v);
  }
  const bool beams = get_bool(body, "use_beam_search").value_or(false);
  if (auto v = get_number(body, "length_penalty")) r.length_penalty = static_cast<float>(*v);
  if (auto v = get_bool(body, "early_stopping")) r.early_stopping = *v;
  if (beams) {
    r.num_beams = r.best_of > 0 ? r.best_of : r.n;
    r.best_of = 0;
  }
  if (out.stream && (r.best_of > 0 || r.num_beams > 0)) {
    throw bad_field(r.num_beams > 0 ? "use_beam_search" : "best_of",
                    "streaming is not possible with best_of > n or beam search: the returned "
                    "choices are known only at the end");
  }
}

void parse_logprobs(const json& body, const ParseLimits& limits, GenerationRequest& out) {
  Request& r = out.request;
  if (out.chat) {
    out.logprobs = get_bool(body, "logprobs").value_or(false);
    if (auto v = get_int(body, "top_logprobs")) {
      require(*v >= 0 && *v <= limits.max_logprobs, "top_logprobs",
              fmt::format("must be in [0, {}], got {}", limits.max_logprobs, *v));
      require(out.logprobs, "top_logprobs", "needs 'logprobs': true");
      r.logprobs = static_cast<int32_t>(*v);
    } else if (out.logprobs) {
      r.logprobs = 0;
    }
  } else if (auto v = get_int(body, "logprobs")) {
    require(*v >= 0 && *v <= limits.max_logprobs, "logprobs",
            fmt::format("must be in [0, {}], got {}", limits.max_logprobs, *v));
    out.logprobs = true;
    r.logprobs = static_cast<int32_t>(*v);
  }
}

// response_format: {"type": "text" | "json_object" | "json_schema", "json_schema":
// {"name", "schema", "strict"}}; the engine compiles the constraint (errors are 400s).
void parse_response_format(const json& body, Request& r) {
  const auto it = body.find("response_format");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) wrong_type("response_format", "an object", *it);
  const std::optional<std::string> type = get_string(*it, "type");
  if (!type) throw bad_field("response_format.type", "'response_format.type' is required");
  if (*type == "text") return;
  if (*type == "json_object") {
    r.json_object = true;
    return;
  }
  if (*type != "json_schema") {
    throw bad_field("response_format.type",
                    fmt::format("'response_format.type' must be text, json_object or "
                                "json_schema, got \"{}\"",
                                *type));
  }
  const auto spec = it->find("json_schema");
  if (spec == it->end() || !spec->is_object()) {
    throw bad_field("response_format.json_schema",
                    "'response_format.json_schema' must be an object with a 'schema'");
  }
  const auto schema = spec->find("schema");
  if (schema == spec->end() || !schema->is_object()) {
    throw bad_field("response_format.json_schema.schema",
                    "'response_format.json_schema.schema' must be a JSON Schema object");
  }
  r.json_schema = schema->dump();
  r.json_schema_strict = get_bool(*spec, "strict").value_or(false);
}

}  // namespace

json parse_json_body(const std::string& body) {
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, fmt::format("the request body is not valid JSON: {}", e.what()), {},
                   "invalid_request_error", "invalid_json");
  } catch (const json::out_of_range& e) {  // e.g. a number beyond a double (1e400)
    throw ApiError(400, fmt::format("the request body has a number out of range: {}", e.what()), {},
                   "invalid_request_error", "invalid_json");
  }
}

namespace {

json parse_object_body(const std::string& text) {
  json body = parse_json_body(text);
  if (!body.is_object()) {
    throw ApiError(400,
                   fmt::format("the request body must be a JSON object, got {}", type_name(body)));
  }
  return body;
}

// What every generation route shares; chat: messages, else prompt (and suffix).
GenerationRequest parse_body(const json& body, bool chat, const ParseLimits& limits) {
  GenerationRequest out;
  out.chat = chat;
  out.model = get_string(body, "model").value_or("");
  if (chat) {
    parse_messages(body, out);
    out.add_generation_prompt = get_bool(body, "add_generation_prompt").value_or(true);
    out.chat_template = get_string(body, "chat_template").value_or("");
    parse_reasoning(body, limits, out);
  } else {
    parse_prompt(body, out);
    out.echo = get_bool(body, "echo").value_or(false);
    parse_suffix(body, out);
  }
  out.stream = get_bool(body, "stream").value_or(false);
  if (const json* options = find(body, "stream_options")) {
    require(out.stream, "stream_options", "is allowed only with 'stream': true");
    if (!options->is_object()) wrong_type("stream_options", "an object", *options);
    out.include_usage = get_bool(*options, "include_usage").value_or(false);
  }

  Request& r = out.request;
  const std::string max_name = pick(body, {"max_completion_tokens", "max_tokens", "n_predict"});
  if (auto v = get_int(body, max_name)) {
    require(*v >= 1, max_name, fmt::format("must be at least 1, got {}", *v));
    r.max_tokens = *v;
    out.max_tokens_given = true;
  }
  if (auto v = get_int(body, "min_tokens")) {
    require(*v >= 0, "min_tokens", fmt::format("must be >= 0, got {}", *v));
    require(!out.max_tokens_given || *v <= r.max_tokens, "min_tokens",
            fmt::format("must not exceed max_tokens ({}), got {}", r.max_tokens, *v));
    r.min_tokens = *v;
  }
  if (auto v = get_bool(body, "ignore_eos")) r.ignore_eos = *v;
  // A deadline in seconds (loom's own field): when it passes the reply ends with
  // finish_reason "length" and stop_reason "timeout".
  if (auto v = get_number(body, "timeout")) {
    require(*v > 0, "timeout", fmt::format("must be a number of seconds > 0, got {}", *v));
    r.timeout = *v;
  }
  // Speculative decoding per request (loom's own field): 0 turns it off, at most the
  // server's --draft-max.
  if (auto v = get_int(body, "draft_max")) {
    require(*v >= 0 && *v <= limits.draft_max, "draft_max",
            fmt::format("must be between 0 and the server's --draft-max ({}), got {}",
                        limits.draft_max, *v));
    r.draft_max = static_cast<int32_t>(*v);
  }
  parse_sampling(body, limits, out);
  parse_stop(body, r);
  parse_choices(body, limits, out);
  parse_logprobs(body, limits, out);
  if (auto v = get_string(body, "grammar")) r.grammar = *v;
  parse_response_format(body, r);
  return out;
}

}  // namespace

GenerationRequest parse_generation_request(const std::string& text, bool chat,
                                           const ParseLimits& limits) {
  const json body = parse_object_body(text);
  GenerationRequest out = parse_body(body, chat, limits);
  if (chat) out.tools = parse_tool_request(body, text);  // reads `text` again, in key order
  return out;
}

GenerationRequest parse_infill_request(const std::string& text, const ParseLimits& limits) {
  json body = parse_object_body(text);
  FimInput fim;
  for (const char* field : {"input_prefix", "input_suffix"}) {
    const std::optional<std::string> value = get_string(body, field);
    if (!value) throw bad_field(field, fmt::format("'{}' is required", field));
    (std::string_view(field) == "input_prefix" ? fim.prefix : fim.suffix) = *value;
  }
  fim.middle = get_string(body, "prompt").value_or("");
  if (const json* extra = find(body, "input_extra")) {
    if (!extra->is_array())
      wrong_type("input_extra", "an array of {\"filename\", \"text\"} objects", *extra);
    for (size_t i = 0; i < extra->size(); ++i) {
      const json& chunk = (*extra)[i];
      const std::string field = fmt::format("input_extra[{}]", i);
      if (!chunk.is_object()) wrong_type(field, "an object", chunk);
      const json* chunk_text = find(chunk, "text");
      if (!chunk_text || !chunk_text->is_string()) {
        throw bad_field(field + ".text", fmt::format("'{}.text' must be a string", field));
      }
      const json* filename = find(chunk, "filename");
      if (filename && !filename->is_string()) {
        throw bad_field(field + ".filename", fmt::format("'{}.filename' must be a string", field));
      }
      fim.extra.push_back(
          {filename ? filename->get<std::string>() : "tmp", chunk_text->get<std::string>()});
    }
  }
  // The prompt is built from `fim`; the rest are /v1/completions' options.
  body["prompt"] = "";
  body.erase("suffix");
  GenerationRequest out = parse_body(body, false, limits);
  out.fim = std::move(fim);
  out.infill = true;
  return out;
}

}  // namespace loom::server
