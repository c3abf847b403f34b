// The HTTP routes other than generation (/health, /v1/models, /tokenize, /detokenize,
// /metrics; the chat page in web_routes.cpp), authentication, error bodies, and the
// server's life cycle.
#include "server/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "loom/chat.h"
#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/server_state.h"
#include "server/web_routes.h"
#include "server/worker_pool.h"

namespace loom::server {
namespace {

// A worker thread idle this long ends (see worker_pool.h).
constexpr int kWorkerIdleExitSeconds = 5;

using nlohmann::json;

// Runs a handler, turning ApiError (and anything else) into an OpenAI-style error body.
httplib::Server::Handler guarded(
    Server::State& state,
    std::function<void(const httplib::Request&, httplib::Response&)> handler) {
  return
      [&state, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        try {
          handler(req, res);
        } catch (const ApiError& e) {
          write_error(state, res, e.status, dump(e.body()));
        } catch (const std::exception& e) {
          write_error(state, res, 500, dump(ApiError(500, e.what(), {}, "server_error").body()));
        }
        state.heap_trimmer.after_request();
      };
}

void handle_health(const Server::State& state, httplib::Response& res) {
  std::shared_ptr<Backend> backend;
  {
    std::lock_guard lock(state.mutex);
    backend = state.backend;
  }
  // loading (503), ready (200) or draining (503: a load balancer sends no more requests).
  const bool draining = state.requests.draining();
  if (!backend) {
    res.status = 503;
    res.set_content(dump(json{{"status", draining ? "draining" : "loading"}}), "application/json");
    return;
  }
  const EngineStats s = backend->engine->stats();
  const MemoryStats m = memory_stats(s, backend->model.get());
  if (draining) res.status = 503;
  res.set_content(dump(json{{"status", draining ? "draining" : "ready"},
                            {"in_flight", state.requests.in_flight()},
                            {"running", s.running},
                            {"waiting", s.waiting},
                            {"max_sequences", s.max_sequences},
                            {"kv_used_tokens", s.kv_used_tokens},
                            {"kv_cached_tokens", s.kv_cached_tokens},
                            {"kv_capacity_tokens", s.kv_capacity_tokens},
                            {"resident_memory_bytes", m.resident_bytes},
                            {"model_weight_bytes", m.weight_bytes},
                            {"kv_cache_capacity_bytes", m.kv_capacity_bytes},
                            {"kv_cache_used_bytes", m.kv_used_bytes},
                            {"start_time_seconds", m.start_time_seconds}}),
                  "application/json");
}

void handle_models(const Server::State& state, httplib::Response& res) {
  const std::shared_ptr<Backend> backend = state.ready();
  const json model = {{"id", state.options.model_name},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", "loom"},
                      {"max_model_len", backend->engine->context()}};
  res.set_content(dump(json{{"object", "list"}, {"data", json::array({model})}}),
                  "application/json");
}

// POST /tokenize {"content" | "prompt": text, "add_special": bool, "with_pieces": bool}
// (llama.cpp's and vLLM's field names) -> {"tokens": [...], "count": n, "max_model_len"}.
void handle_tokenize(const Server::State& state, const httplib::Request& req,
                     httplib::Response& res) {
  const std::shared_ptr<Backend> backend = state.ready();
  const json body = parse_json_body(req.body);
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  const char* field = body.contains("content") ? "content" : "prompt";
  if (!body.contains(field) || !body[field].is_string()) {
    throw bad_field(field, fmt::format("'{}' must be a string", field));
  }
  auto flag = [&](const char* name, bool fallback) {
    if (!body.contains(name) || body[name].is_null()) return fallback;
    if (!body[name].is_boolean())
      throw bad_field(name, fmt::format("'{}' must be a boolean", name));
    return body[name].get<bool>();
  };
  const bool add_special = flag("add_special", true);
  const bool parse_special = flag("parse_special", true);
  const bool with_pieces = flag("with_pieces", false);
  const std::vector<int32_t> tokens =
      backend->model->tokenize(body[field].get<std::string>(), add_special, parse_special);
  json out = {{"count", tokens.size()}, {"max_model_len", backend->engine->context()}};
  if (with_pieces) {
    json list = json::array();
    for (int32_t t : tokens) list.push_back({{"id", t}, {"piece", backend->model->token_piece(t)}});
    out["tokens"] = list;
  } else {
    out["tokens"] = tokens;
  }
  res.set_content(dump(out), "application/json");
}

// POST /detokenize {"tokens": [...]} -> {"content": text, "prompt": text}.
void handle_detokenize(const Server::State& state, const httplib::Request& req,
                       httplib::Response& res) {
  const std::shared_ptr<Backend> backend = state.ready();
  const json body = parse_json_body(req.body);
  if (!body.is_object() || !body.contains("tokens") || !body["tokens"].is_array()) {
    throw bad_field("tokens", "'tokens' must be an array of token ids");
  }
  std::vector<int32_t> tokens;
  for (const json& t : body["tokens"]) {
    if (!t.is_number_integer()) throw bad_field("tokens", "'tokens' must be an array of token ids");
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id >= backend->model->n_vocab()) {
      throw bad_field("tokens", fmt::format("token id {} is outside the vocabulary (0..{})", id,
                                            backend->model->n_vocab() - 1));
    }
    tokens.push_back(static_cast<int32_t>(id));
  }
  const std::string text = backend->model->detokenize(tokens);
  res.set_content(dump(json{{"content", text}, {"prompt", text}}), "application/json");
}

void handle_metrics(const Server::State& state, httplib::Response& res) {
  std::shared_ptr<Backend> backend;
  {
    std::lock_guard lock(state.mutex);
    backend = state.backend;
  }
  const EngineStats stats = backend ? backend->engine->stats() : EngineStats{};
  const MemoryStats memory = memory_stats(stats, backend ? backend->model.get() : nullptr);
  res.set_content(state.metrics.render(stats, memory, state.options.model_name),
                  "text/plain; version=0.0.4");
}

bool authorized(const Server::State& state, const httplib::Request& req) {
  if (state.options.api_key.empty()) return true;
  return req.get_header_value("Authorization") == "Bearer " + state.options.api_key;
}

}  // namespace

std::shared_ptr<Backend> Server::State::ready() const {
  std::lock_guard lock(mutex);
  if (!backend) {
    throw ApiError(503, "the model is still loading; retry shortly", {}, "server_busy", "loading");
  }
  return backend;
}

void write_error(Server::State& state, httplib::Response& res, int status,
                 const std::string& body_json) {
  state.metrics.count_error(status);
  res.status = status;
  res.set_content(body_json, "application/json");
}

Server::Server(ServerOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  if (s.options.model_name.empty()) s.options.model_name = "loom";
  s.http.set_tcp_nodelay(true);
  // One worker per open stream (a streaming response holds its worker to the end), plus
  // spare workers so /health, /metrics and 503 refusals answer while every stream is busy.
  const int threads = s.options.http_threads > 0 ? s.options.http_threads : 96;
  s.http.new_task_queue = [threads] {
    return new WorkerPool(threads, std::chrono::seconds(kWorkerIdleExitSeconds));
  };
  s.http.set_payload_max_length(16 << 20);
  s.http.set_read_timeout(60, 0);
  s.http.set_write_timeout(60, 0);

  s.http.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    // The page and its files load without the key (the page then asks for it).
    const bool page = (req.method == "GET" || req.method == "HEAD") && is_web_path(req.path);
    if (req.path == "/health" || page || authorized(s, req))
      return httplib::Server::HandlerResponse::Unhandled;
    write_error(s, res, 401,
                dump(ApiError(401, "invalid API key: send 'Authorization: Bearer <key>'", {},
                              "authentication_error", "invalid_api_key")
                         .body()));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.http.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string message = res.status == 404
                                    ? fmt::format("no route {} {}", req.method, req.path)
                                    : fmt::format("HTTP {}", res.status);
    res.set_content(dump(ApiError(res.status, message, {},
                                  res.status == 404 ? "not_found_error" : "invalid_request_error")
                             .body()),
                    "application/json");
  });

  register_web_routes(s.http);
  s.http.Get("/health",
             [&s](const httplib::Request&, httplib::Response& res) { handle_health(s, res); });
  s.http.Get("/v1/models", guarded(s, [&s](const httplib::Request&, httplib::Response& res) {
               handle_models(s, res);
             }));
  s.http.Get("/metrics", guarded(s, [&s](const httplib::Request&, httplib::Response& res) {
               handle_metrics(s, res);
             }));
  s.http.Post("/tokenize", guarded(s, [&s](const httplib::Request& req, httplib::Response& res) {
                handle_tokenize(s, req, res);
              }));
  s.http.Post("/detokenize", guarded(s, [&s](const httplib::Request& req, httplib::Response& res) {
                handle_detokenize(s, req, res);
              }));
  s.http.Post("/v1/chat/completions",
              guarded(s, [&s](const httplib::Request& req, httplib::Response& res) {
                handle_generation(s, req, res, true);
              }));
  s.http.Post("/v1/completions",
              guarded(s, [&s](const httplib::Request& req, httplib::Response& res) {
                handle_generation(s, req, res, false);
              }));
  s.http.Post("/infill", guarded(s, [&s](const httplib::Request& req, httplib::Response& res) {
                handle_generation(s, req, res, false, /*infill=*/true);
              }));
}

Server::~Server() {
  stop();
}

int Server::bind() {
  State& s = *state_;
  int port = s.options.port;
  if (port == 0) {
    port = s.http.bind_to_any_port(s.options.host);
  } else if (!s.http.bind_to_port(s.options.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw Error(fmt::format("cannot listen on {}:{} (address in use or not available)",
                            s.options.host, s.options.port));
  }
  return port;
}

void Server::set_backend(std::shared_ptr<const Model> model, std::shared_ptr<Engine> engine) {
  State& s = *state_;
  auto backend = std::make_shared<Backend>(Backend{std::move(model), std::move(engine)});
  std::lock_guard lock(s.mutex);
  s.backend = std::move(backend);
}

void Server::run() {
  state_->http.listen_after_bind();
}

void Server::stop() {
  if (state_->http.is_running()) state_->http.stop();
}

void Server::begin_drain() {
  state_->requests.begin_drain();
}

void Server::wait_for_drain() {
  state_->requests.wait_for_drain();
}

bool Server::wait_idle(double seconds) {
  return state_->requests.wait_idle(
      std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, seconds) * 1000)));
}

void Server::cancel_all() {
  state_->requests.cancel_all();
}

}  // namespace loom::server
