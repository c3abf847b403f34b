// loom's OpenAI-compatible HTTP server. Usage:
//
//   loom::server::Server server(options);
//   int port = server.bind();            // listening; /health answers 503 "loading"
//   std::thread http([&] { server.run(); });
//   server.set_backend(model, engine);   // now serving
//   ...
//   server.begin_drain();                // e.g. on SIGTERM: /health 503 "draining", new
//   if (!server.wait_idle(30)) server.cancel_all();  // requests 503; running ones finish
//   server.stop(); http.join();
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "loom/loom.h"
#include "loom/reasoning.h"

namespace loom::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0 = any free port (see bind())
  std::string api_key;            // when set, requests need "Authorization: Bearer KEY"
  std::string model_name;         // the name /v1/models reports and responses carry
  std::string chat_template;      // "" = the model's own, else a built-in name
  int http_threads = 0;           // 0 = 96; size it above sequences + queue (one per stream)
  int32_t max_n = 16;             // most choices one request may ask for
  double keep_alive_seconds = 1;  // SSE comment interval while a stream has nothing to send
  // Chat replies: <think>…</think> to reasoning_content unless a request says otherwise.
  ReasoningFormat reasoning_format = ReasoningFormat::kDeepSeek;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket; returns the port. Throws loom::Error when the address is taken.
  int bind();
  // Starts serving generation requests (until then they get 503).
  void set_backend(std::shared_ptr<const Model> model, std::shared_ptr<Engine> engine);
  // Accepts connections until stop(). Call after bind().
  void run();
  void stop();

  // Graceful drain: /health answers 503 "draining" and new generation requests 503 with
  // Retry-After, while the running ones go on. Thread-safe.
  void begin_drain();
  // Blocks until begin_drain() was called.
  void wait_for_drain();
  // Waits up to `seconds` for the generation requests in flight to end (streams written to
  // the end); true when none is left.
  bool wait_idle(double seconds);
  // Ends every request in flight now: a stream gets an error event and [DONE], a whole
  // request 503 with Retry-After.
  void cancel_all();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace loom::server
