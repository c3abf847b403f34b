// `loom serve`: the OpenAI-compatible HTTP server on one model.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/signal_pipe.h"
#include "loom/chat.h"
#include "loom/error.h"
#include "loom/loom.h"
#include "loom/reasoning.h"
#include "server/server.h"

namespace loom::cli {
namespace {

struct ServeArgs {
  // Model, threads, context, batch, KV type, prefix cache, drafts: as for run and chat.
  // The batch is small here: waiting prompts are prefilled a chunk at a time beside the
  // running streams, so first tokens arrive one request after another instead of all at
  // the end of one long step (8 streams on TinyLlama: median time to first token 3.5 s
  // instead of 5.1 s on a loaded machine, same aggregate throughput).
  EngineArgs engine{.batch = 64};
  std::string host = "127.0.0.1";
  int port = 8080;
  int32_t parallel = 4;
  int32_t queue = 64;
  int64_t kv_tokens = 0;
  std::string api_key;
  std::string model_alias;
  std::string chat_template;
  std::string reasoning_format = "auto";
  double drain_timeout = 30;
};

int serve(const ServeArgs& a) {
  if (!a.chat_template.empty()) {
    bool known = false;
    for (const std::string& name : builtin_chat_templates())
      known = known || name == a.chat_template;
    if (!known) {
      std::string names;
      for (const std::string& name : builtin_chat_templates()) names += " " + name;
      throw Error(fmt::format("--chat-template {}: unknown; built-in templates:{}", a.chat_template,
                              names));
    }
  }
  server::ServerOptions options;
  options.host = a.host;
  options.port = a.port;
  options.api_key = a.api_key;
  options.model_name = a.model_alias.empty()
                           ? std::filesystem::path(a.engine.model_path).filename().string()
                           : a.model_alias;
  options.chat_template = a.chat_template;
  try {
    options.reasoning_format = parse_reasoning_format(a.reasoning_format);
  } catch (const Error& e) {
    throw Error(fmt::format("--reasoning-format: {}", e.what()));
  }
  options.http_threads = a.parallel + a.queue + 16;
  server::Server server(options);
  const int port = server.bind();
  // The first SIGTERM/SIGINT drains (running requests finish, new ones get 503), the
  // second ends the running ones at once.
  SignalPipe signals([&server](int signo, int count) {
    if (count == 1) {
      fmt::print(stderr, "loom serve: signal {}: draining (a second signal stops at once)\n",
                 signo);
      server.begin_drain();
    } else {
      fmt::print(stderr, "loom serve: signal {} again: cancelling the running requests\n", signo);
      server.cancel_all();
    }
  });
  // Listen at once so /health can say "loading" while the model maps.
  std::promise<void> http_done;
  std::future<void> http_stopped = http_done.get_future();
  std::thread http([&] {
    server.run();
    http_done.set_value();
  });
  fmt::print(stderr, "loom serve: listening on http://{}:{} (loading {})\n", a.host, port,
             a.engine.model_path);

  try {
    std::shared_ptr<Model> model = Model::load(a.engine.model_path, {.mlock = a.engine.mlock});
    EngineOptions engine_options = to_engine_options(a.engine);
    engine_options.max_sequences = a.parallel;
    engine_options.max_queue = a.queue;
    engine_options.kv_tokens = a.kv_tokens;
    auto engine = std::make_shared<Engine>(model, engine_options);
    const EngineStats stats = engine->stats();
    fmt::print(stderr,
               "loom serve: model {} ({}, {} layers); context {} per sequence; {} threads\n",
               options.model_name, model->info().architecture, model->info().n_layer,
               engine->context(), engine->threads());
    // The cache is paged: sequences share the token budget in blocks, so up to --parallel
    // run at once, and as many as the budget allows even if all reach the full context.
    fmt::print(stderr,
               "loom serve: KV cache ({}) holds {} tokens; {} sequences run at once ({} of them "
               "at the full context), {} more requests may queue\n",
               a.engine.kv_type, stats.kv_capacity_tokens, stats.max_sequences,
               std::min<int64_t>(stats.max_sequences, stats.kv_capacity_tokens / engine->context()),
               a.queue);
    const std::string chat_source = chat_template_source(*model);
    fmt::print(stderr, "loom serve: chat template: {}\n",
               !a.chat_template.empty() ? a.chat_template
               : chat_source.empty()    ? std::string("chatml (the model has none)")
                                        : std::string("the model's own"));
    server.set_backend(model, engine);
    fmt::print(stderr, "loom serve: ready\n");
  } catch (...) {
    server.stop();
    http.join();
    throw;
  }
  server.wait_for_drain();
  if (!server.wait_idle(a.drain_timeout)) {
    fmt::print(stderr, "loom serve: drain timeout ({} s): cancelling the running requests\n",
               a.drain_timeout);
    server.cancel_all();
  }
  // Cancelled requests end within a step; a client that reads nothing is not waited for long.
  server.wait_idle(5);
  server.stop();
  // cpp-httplib 0.11 keeps an idle keep-alive connection's worker for up to 5 s and cannot
  // close it; every request has ended by now, so the process ends without waiting.
  if (http_stopped.wait_for(std::chrono::milliseconds(500)) != std::future_status::ready) {
    fmt::print(stderr, "loom serve: stopped (idle connections closed)\n");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  http.join();
  fmt::print(stderr, "loom serve: stopped\n");
  return 0;
}

}  // namespace

Command add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  add_engine_options(*cmd, args->engine);
  cmd->add_option("--host", args->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "port (0 = any free port)")->capture_default_str();
  cmd->add_option("--parallel", args->parallel, "sequences that run at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--queue", args->queue, "requests that may wait; more get 503")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  cmd->add_option("--kv-tokens", args->kv_tokens,
                  "KV cache size in tokens, shared by all sequences in blocks of 16 "
                  "(0 = --parallel x --ctx-size)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--api-key", args->api_key, "require 'Authorization: Bearer KEY'");
  cmd->add_option("--model-alias", args->model_alias, "model name reported by the API");
  cmd->add_option("--chat-template", args->chat_template,
                  "built-in chat template instead of the model's (chatml, llama-2, llama-3, "
                  "mistral, gemma, phi-3, zephyr)");
  cmd->add_option("--reasoning-format", args->reasoning_format,
                  "chat replies: <think>...</think> to reasoning_content (auto, deepseek) or "
                  "left in the content (none); a request's reasoning_format overrides it")
      ->capture_default_str();
  cmd->add_option("--drain-timeout", args->drain_timeout,
                  "on SIGTERM/SIGINT, seconds to let running requests finish before they are "
                  "cancelled (0 = cancel at once; a second signal cancels at once too)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [args] { return serve(*args); };
}

}  // namespace loom::cli
