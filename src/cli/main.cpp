// loom: run large language models from GGUF files on the CPU.
#include <fmt/core.h>

#include <exception>
#include <vector>

#include "cli/commands.h"
#include "loom/error.h"

int main(int argc, char** argv) {
  CLI::App app{"loom: run large language models (GGUF files) on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "loom 0.1.0");

  std::vector<std::pair<CLI::App*, loom::cli::Command>> commands;
  auto add = [&](loom::cli::Command (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    loom::cli::Command command = adder(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(command));
  };
  add(loom::cli::add_run);
  add(loom::cli::add_chat);
  add(loom::cli::add_info);
  add(loom::cli::add_perplexity);
  add(loom::cli::add_synth);
  add(loom::cli::add_tokenize);
  add(loom::cli::add_bench);
  add(loom::cli::add_quantize);
  add(loom::cli::add_serve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, command] : commands) {
      if (sub->parsed()) return command();
    }
  } catch (const loom::Error& e) {
    fmt::print(stderr, "loom: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "loom: internal error: {}\n", e.what());
    return 3;
  }
  return 0;
}
