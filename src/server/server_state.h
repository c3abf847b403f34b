// What the route handlers share: options, metrics and the model/engine once loaded.
#pragma once

#include <httplib.h>

#include <memory>
#include <mutex>

#include "loom/loom.h"
#include "server/heap_trimmer.h"
#include "server/metrics.h"
#include "server/request_registry.h"
#include "server/server.h"

namespace loom::server {

struct Backend {
  std::shared_ptr<const Model> model;
  std::shared_ptr<Engine> engine;
};

struct Server::State {
  ServerOptions options;
  Metrics metrics;
  httplib::Server http;
  mutable std::mutex mutex;
  std::shared_ptr<Backend> backend;  // null while loading
  RequestRegistry requests;          // generation requests in flight (graceful drain)
  HeapTrimmer heap_trimmer;          // keeps the resident set flat under long load

  // The loaded backend, or ApiError 503 while the model is loading.
  std::shared_ptr<Backend> ready() const;
};

// POST /v1/chat/completions (chat), /v1/completions and /infill (infill: llama.cpp's
// fill-in-the-middle fields, answered as a completion).
void handle_generation(Server::State& state, const httplib::Request& req, httplib::Response& res,
                       bool chat, bool infill = false);

// Writes an ApiError as the response.
void write_error(Server::State& state, httplib::Response& res, int status,
                 const std::string& body_json);

}  // namespace loom::server
