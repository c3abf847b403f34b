// The `loom` subcommands. Each registers its options on the CLI11 app and returns the
// function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace loom::cli {

using Command = std::function<int()>;

Command add_run(CLI::App& app);
Command add_chat(CLI::App& app);
Command add_info(CLI::App& app);
Command add_perplexity(CLI::App& app);
Command add_synth(CLI::App& app);
Command add_tokenize(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_quantize(CLI::App& app);
Command add_serve(CLI::App& app);

}  // namespace loom::cli
