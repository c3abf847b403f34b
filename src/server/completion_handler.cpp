// POST /v1/chat/completions and /v1/completions: parse, template, tokenize, check the
// context, submit to the engine, then answer at once or stream Server-Sent Events.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "loom/chat.h"
#include "loom/fill_in_middle.h"
#include "loom/reasoning.h"
#include "server/api_error.h"
#include "server/client_connection.h"
#include "server/event_queue.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/server_state.h"

namespace loom::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The request's parameter for a field of loom::Request the engine found at fault, as the
// client spelled it.
std::string client_param(const std::string& field, bool chat) {
  if (field == "json_schema" || field == "json_object") return "response_format";
  if (field == "stop_tokens") return "stop_token_ids";
  if (field == "num_beams") return "use_beam_search";
  if (field == "prompt") return chat ? "messages" : "prompt";
  if (field == "grammar_triggers") return "tool_choice";
  return field;
}

// Turns the parsed request into prompt tokens and final limits; throws ApiError.
void prepare_prompt(const Server::State& state, const Backend& backend, GenerationRequest& g) {
  const Model& model = *backend.model;
  Request& r = g.request;
  const std::string prompt_field = g.chat ? "messages" : "prompt";
  if (g.chat) {
    const std::string& name =
        g.chat_template.empty() ? state.options.chat_template : g.chat_template;
    std::string text;
    try {
      text =
          apply_chat_template(model, g.messages, g.add_generation_prompt, name, g.tools.tools_json);
      if (g.tools.active())
        g.tools.calling.format = tool_call_format(resolve_chat_template(model, name));
    } catch (const Error& e) {
      throw ApiError(400, fmt::format("the chat template failed: {}", e.what()), "messages");
    }
    try {
      constrain_tool_calls(g.tools.calling, r);  // the calls' grammar (none for tool_choice none)
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "tools");
    }
    // The template writes the special tokens itself: parse them, and add BOS only when
    // the template did not.
    const int32_t bos = model.bos_token();
    const std::string bos_text = bos >= 0 ? model.token_text(bos) : std::string();
    r.parse_special = true;
    r.add_special = bos_text.empty() || text.rfind(bos_text, 0) != 0;
    g.prompt_opens_reasoning = prompt_opens_reasoning(text);
    r.prompt = std::move(text);
  }
  if (g.fim) {
    // Fill-in-the-middle: the model's FIM tokens around the texts (a 400 without them).
    try {
      r.prompt_tokens = fim_prompt_tokens(model, *g.fim);
    } catch (const Error& e) {
      throw bad_field(g.infill ? "input_prefix" : "suffix", e.what());
    }
    r.prompt = g.fim->prefix + g.fim->middle;  // what echo shows
  } else if (r.prompt_tokens.empty()) {
    try {
      r.prompt_tokens = model.tokenize(r.prompt, r.add_special, r.parse_special);
    } catch (const Error& e) {
      throw bad_field(prompt_field, e.what());
    }
  } else {
    for (int32_t token : r.prompt_tokens) {
      if (token < 0 || token >= model.n_vocab()) {
        throw bad_field("prompt", fmt::format("token id {} is outside the vocabulary (0..{})",
                                              token, model.n_vocab() - 1));
      }
    }
    r.prompt = model.detokenize(r.prompt_tokens);
  }
  if (r.prompt_tokens.empty()) throw bad_field(prompt_field, "the prompt is empty");
  const int64_t n_prompt = static_cast<int64_t>(r.prompt_tokens.size());
  const int64_t context = backend.engine->context();
  if (n_prompt >= context) {
    throw ApiError(400,
                   fmt::format("this model's maximum context length is {} tokens, but the {} "
                               "has {} tokens",
                               context, prompt_field, n_prompt),
                   prompt_field, "invalid_request_error", "context_length_exceeded");
  }
  if (!g.max_tokens_given) {
    // OpenAI's legacy completions default to 16 tokens; chat runs to the end of the context.
    r.max_tokens = g.chat ? context - n_prompt : std::min<int64_t>(16, context - n_prompt);
  } else if (n_prompt + r.max_tokens > context) {
    throw ApiError(
        400,
        fmt::format("this model's maximum context length is {} tokens, but {} "
                    "tokens were requested ({} in the {}, {} for the completion)",
                    context, n_prompt + r.max_tokens, n_prompt, prompt_field, r.max_tokens),
        "max_tokens", "invalid_request_error", "context_length_exceeded");
  }
  if (r.min_tokens > r.max_tokens) {
    throw bad_field("min_tokens", fmt::format("'min_tokens' ({}) exceeds max_tokens ({})",
                                              r.min_tokens, r.max_tokens));
  }
}

// Per-request bookkeeping shared by the engine callbacks and the HTTP worker.
struct RequestTracker {
  Clock::time_point submitted = Clock::now();
  std::vector<Clock::time_point> last_token;  // per choice; epoch = none yet
  bool first_seen = false;
  std::atomic<bool> ended{false};  // the engine reported its end (done or error)
  EventQueue queue;
};

RequestCallbacks callbacks_for(Server::State& state, std::shared_ptr<RequestTracker> tracker,
                               int32_t n_choices) {
  tracker->last_token.assign(static_cast<size_t>(std::max(n_choices, 1)), Clock::time_point{});
  Metrics* metrics = &state.metrics;
  RequestCallbacks callbacks;
  callbacks.on_token = [tracker, metrics](const TokenEvent& event) {
    const Clock::time_point now = Clock::now();
    if (!tracker->first_seen) {
      tracker->first_seen = true;
      metrics->observe_time_to_first_token(
          std::chrono::duration<double>(now - tracker->submitted).count());
    }
    const size_t index = static_cast<size_t>(event.index);
    if (index < tracker->last_token.size()) {
      if (tracker->last_token[index] != Clock::time_point{}) {
        metrics->observe_inter_token_latency(
            std::chrono::duration<double>(now - tracker->last_token[index]).count());
      }
      tracker->last_token[index] = now;
    }
    EngineItem item;
    item.event = event;
    tracker->queue.push(std::move(item));
  };
  callbacks.on_done = [tracker, metrics](Completion completion) {
    tracker->ended = true;
    std::string reason = "length";
    for (const Choice& c : completion.choices) {
      if (c.finish_reason == FinishReason::kStop) reason = "stop";
    }
    metrics->observe_request_done(seconds_since(tracker->submitted),
                                  completion.timings.prompt_tokens,
                                  completion.timings.generated_tokens, reason);
    EngineItem item;
    item.kind = EngineItem::Kind::kDone;
    item.completion = std::move(completion);
    tracker->queue.push(std::move(item));
  };
  callbacks.on_error = [tracker](const std::string& message) {
    tracker->ended = true;
    EngineItem item;
    item.kind = EngineItem::Kind::kError;
    item.error = message;
    tracker->queue.push(std::move(item));
  };
  return callbacks;
}

// The end of a request that the server's shutdown cut short (RequestRegistry::cancel_all).
ApiError shutdown_error() {
  return ApiError(503, "the server shut down before this request finished; retry", {},
                  "server_busy", "shutdown");
}

std::string sse(const json& value) {
  return "data: " + dump(value) + "\n\n";
}

// Turns engine items into SSE events for one streaming response.
class StreamWriter {
 public:
  StreamWriter(ResponseContext ctx, GenerationRequest request)
      : ctx_(std::move(ctx)), request_(std::move(request)) {
    offsets_.assign(static_cast<size_t>(request_.request.n), 0);
    held_logprobs_.resize(static_cast<size_t>(request_.request.n));
    if (ctx_.chat && request_.reasoning_format != ReasoningFormat::kNone) {
      reasoning_.assign(static_cast<size_t>(request_.request.n),
                        ReasoningSplitter(request_.prompt_opens_reasoning));
    }
    if (ctx_.chat && request_.tools.active()) {
      for (int32_t i = 0; i < request_.request.n; ++i)
        tool_calls_.emplace_back(request_.tools.calling.format);
    }
  }

  // The events sent before any token: the assistant role of every choice (chat).
  std::string opening() const {
    std::string out;
    if (!ctx_.chat) return out;
    for (int32_t i = 0; i < request_.request.n; ++i) {
      out += sse(chunk_json(ctx_, i, {{"role", "assistant"}, {"content", ""}}, "", "", nullptr));
    }
    return out;
  }

  std::string token(const TokenEvent& event) {
    std::string out;
    const size_t index = static_cast<size_t>(event.index);
    std::vector<TokenLogprob>& held = held_logprobs_.at(index < held_logprobs_.size() ? index : 0);
    if (request_.logprobs && event.logprob) held.push_back(*event.logprob);
    ReasoningText text = split(event);
    const json calls = take_tool_calls(event, text);
    // A token's logprobs travel with its text: while its text is held back (a possible
    // stop string, an incomplete UTF-8 sequence) they wait, so no chunk carries text
    // without the logprobs of the tokens that made it.
    const bool has_text = !text.reasoning.empty() || !text.content.empty();
    if (has_text || (event.finished && !held.empty())) {
      const json logprobs = take_logprobs(index, held);
      json delta = json::object();
      if (!text.reasoning.empty()) delta["reasoning_content"] = text.reasoning;
      if (!text.content.empty() || text.reasoning.empty()) delta["content"] = text.content;
      json chunk = chunk_json(ctx_, event.index, delta, text.content, "", logprobs);
      if (request_.infill) chunk["content"] = text.content;  // llama.cpp's /infill field
      out += sse(chunk);
    }
    for (const json& call : calls) {
      out += sse(
          chunk_json(ctx_, event.index, {{"tool_calls", json::array({call})}}, "", "", nullptr));
    }
    if (event.finished) {
      const size_t index = static_cast<size_t>(event.index);
      const bool called = event.finish_reason == FinishReason::kStop &&
                          index < tool_calls_.size() && tool_calls_[index].made_calls();
      json chunk = chunk_json(ctx_, event.index, json::object(), "",
                              called ? "tool_calls" : to_string(event.finish_reason), nullptr);
      if (event.timed_out) chunk["choices"][0]["stop_reason"] = "timeout";
      out += sse(chunk);
    }
    return out;
  }

  std::string done(const Completion& completion) const {
    std::string out;
    if (request_.include_usage) out += sse(usage_chunk_json(ctx_, completion.timings));
    return out + "data: [DONE]\n\n";
  }

  static std::string error(const ApiError& e) { return sse(e.body()) + "data: [DONE]\n\n"; }

 private:
  // The held logprobs in the response's form (null when logprobs were not asked for).
  json take_logprobs(size_t index, std::vector<TokenLogprob>& held) {
    if (!request_.logprobs) return nullptr;
    json logprobs;
    if (ctx_.chat) {
      json content = json::array();
      for (const TokenLogprob& lp : held) content.push_back(chat_logprob(*ctx_.vocab, lp));
      logprobs = {{"content", content}};
    } else {
      TextLogprobs text_logprobs;
      int64_t& offset = offsets_.at(index < offsets_.size() ? index : 0);
      for (const TokenLogprob& lp : held) {
        text_logprobs.add(*ctx_.vocab, lp, offset);
        offset += static_cast<int64_t>(lp.bytes.size());
      }
      logprobs = text_logprobs.to_json();
    }
    held.clear();
    return logprobs;
  }

  // The event's text as reasoning and content (all content without the split); the
  // choice's last event also gives what its splitter held back.
  ReasoningText split(const TokenEvent& event) {
    const size_t index = static_cast<size_t>(event.index);
    if (index >= reasoning_.size()) return {{}, event.text};
    ReasoningText text = reasoning_[index].push(event.text);
    if (event.finished) {
      ReasoningText rest = reasoning_[index].flush();
      text.reasoning += rest.reasoning;
      text.content += rest.content;
    }
    return text;
  }

  // Tool calls: the content goes through the choice's parser; returns the delta.tool_calls
  // entries of the calls it completed.
  json take_tool_calls(const TokenEvent& event, ReasoningText& text) {
    const size_t index = static_cast<size_t>(event.index);
    if (index >= tool_calls_.size()) return json::array();
    ToolCallStream::Out out = tool_calls_[index].push(text.content, event.finished);
    text.content = std::move(out.content);
    return out.tool_calls;
  }

  ResponseContext ctx_;
  GenerationRequest request_;
  std::vector<int64_t> offsets_;  // completions logprobs: text offset per choice
  std::vector<std::vector<TokenLogprob>> held_logprobs_;  // per choice: of held-back text
  std::vector<ReasoningSplitter> reasoning_;  // chat with reasoning_format: one per choice
  std::vector<ToolCallStream> tool_calls_;    // chat with tools: one per choice
};

void respond_whole(Server::State& state, const httplib::Request& req, httplib::Response& res,
                   const ResponseContext& ctx, const GenerationRequest& g, RequestTracker& tracker,
                   Backend& backend, RequestId id) {
  // Nothing is written until the end, so a client that went away is noticed by looking at
  // its socket every so often; then the request is cancelled rather than computed for no one.
  constexpr auto kCheckEvery = std::chrono::milliseconds(100);
  ClientConnection client(req.remote_addr, req.remote_port, req.local_port);
  Clock::time_point next_check = Clock::now() + kCheckEvery;
  std::vector<EngineItem> items;
  for (;;) {
    items.clear();
    const bool got = tracker.queue.pop_all(items, kCheckEvery);
    if (!got || Clock::now() >= next_check) {
      next_check = Clock::now() + kCheckEvery;
      bool done = false;
      for (const EngineItem& item : items) done = done || item.kind != EngineItem::Kind::kToken;
      if (!done && client.closed()) {
        backend.engine->cancel(id);
        state.metrics.observe_request_done(0, 0, 0, "abort");
        res.status = 499;  // nginx's "client closed request"; nobody reads it
        return;
      }
    }
    for (EngineItem& item : items) {
      if (item.kind == EngineItem::Kind::kError) {
        throw ApiError(500, "generation failed: " + item.error, {}, "server_error");
      }
      if (item.kind == EngineItem::Kind::kCancelled) {
        res.set_header("Retry-After", "1");
        throw shutdown_error();
      }
      if (item.kind == EngineItem::Kind::kDone) {
        json body = completion_json(ctx, g, item.completion, g.request.prompt);
        // llama.cpp's /infill clients read the text from a top-level "content".
        if (g.infill && !body["choices"].empty()) body["content"] = body["choices"][0]["text"];
        res.set_content(dump(body), "application/json");
        return;
      }
    }
  }
}

void respond_stream(Server::State& state, httplib::Response& res, ResponseContext ctx,
                    GenerationRequest g, std::shared_ptr<RequestTracker> tracker,
                    std::shared_ptr<Backend> backend, RequestId id,
                    std::shared_ptr<RequestRegistry::Ticket> ticket) {
  struct StreamState {
    explicit StreamState(StreamWriter w) : writer(std::move(w)) {}
    StreamWriter writer;
    bool opened = false;
    std::atomic<bool> finished{false};
  };
  auto stream = std::make_shared<StreamState>(StreamWriter(std::move(ctx), std::move(g)));
  const auto keep_alive =
      std::chrono::milliseconds(static_cast<int64_t>(state.options.keep_alive_seconds * 1000));
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream, tracker, keep_alive](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& text) {
          return text.empty() || sink.write(text.data(), text.size());
        };
        if (!stream->opened) {
          stream->opened = true;
          return write(stream->writer.opening() + ": loom\n\n");
        }
        std::vector<EngineItem> items;
        // Nothing to send (a long prefill, a queue): an SSE comment keeps proxies and
        // clients from timing out, and shows whether the client is still there.
        if (!tracker->queue.pop_all(items, keep_alive)) return write(": keep-alive\n\n");
        std::string out;
        for (const EngineItem& item : items) {
          // A cancelled request's last tokens can arrive after its kCancelled item (the
          // engine sees the cancel a step later); nothing goes after the stream's end.
          if (stream->finished) break;
          if (item.kind == EngineItem::Kind::kToken) {
            out += stream->writer.token(item.event);
          } else {
            out += item.kind == EngineItem::Kind::kDone ? stream->writer.done(item.completion)
                   : item.kind == EngineItem::Kind::kCancelled
                       ? StreamWriter::error(shutdown_error())
                       : StreamWriter::error(
                             ApiError(500, "generation failed: " + item.error, {}, "server_error"));
            stream->finished = true;
          }
        }
        if (!write(out)) return false;
        if (stream->finished) sink.done();
        return true;
      },
      // The ticket lives as long as this releaser: until the response is written.
      [stream, backend, id, metrics = &state.metrics, ticket](bool) {
        // The client went away before the end: free the sequence and its cache now.
        if (!stream->finished) {
          backend->engine->cancel(id);
          metrics->observe_request_done(0, 0, 0, "abort");
        }
      });
}

}  // namespace

void handle_generation(Server::State& state, const httplib::Request& req, httplib::Response& res,
                       bool chat, bool infill) {
  // Counted before anything else, so a drain waits for every request it let in.
  const std::shared_ptr<RequestRegistry::Ticket> ticket = state.requests.enter();
  if (!ticket) {
    res.set_header("Retry-After", "5");
    throw ApiError(503, "the server is shutting down and takes no new requests; retry", {},
                   "server_busy", "draining");
  }
  const std::shared_ptr<Backend> backend = state.ready();
  ParseLimits limits;
  limits.max_n = state.options.max_n;
  limits.n_vocab = backend->model->n_vocab();
  const EngineOptions& engine_options = backend->engine->options();
  limits.draft_max = engine_options.draft == "ngram" ? engine_options.draft_max : 0;
  limits.reasoning_format = state.options.reasoning_format;
  GenerationRequest g = infill ? parse_infill_request(req.body, limits)
                               : parse_generation_request(req.body, chat, limits);
  prepare_prompt(state, *backend, g);

  auto tracker = std::make_shared<RequestTracker>();
  const int32_t n_choices = std::max({g.request.n, g.request.best_of, g.request.num_beams});
  RequestId id = 0;
  try {
    id = backend->engine->submit(g.request, callbacks_for(state, tracker, n_choices));
  } catch (const QueueFullError& e) {
    res.set_header("Retry-After", "1");
    throw ApiError(503, e.what(), {}, "server_busy", "queue_full");
  } catch (const FieldError& e) {
    throw ApiError(400, e.what(), client_param(e.field(), chat));
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  ticket->on_cancel([tracker, backend, id, metrics = &state.metrics] {
    if (tracker->ended) return;  // finished; its stream is only being written out
    backend->engine->cancel(id);
    metrics->observe_request_done(0, 0, 0, "abort");
    EngineItem item;
    item.kind = EngineItem::Kind::kCancelled;
    tracker->queue.push(std::move(item));
  });
  ResponseContext ctx = make_context(
      chat, state.options.model_name.empty() ? g.model : state.options.model_name, *backend->model);
  if (g.stream) {
    respond_stream(state, res, std::move(ctx), std::move(g), tracker, backend, id, ticket);
  } else {
    respond_whole(state, req, res, ctx, g, *tracker, *backend, id);
  }
}

}  // namespace loom::server
