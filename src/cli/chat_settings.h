// `/set NAME VALUE` and `/show` in `loom chat`: the decoding controls under the names of
// the command-line flags (`/set temp 0.7`, `/set stop User:`), parsed by the same option
// definitions as the flags, so names, types and messages agree.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cli/generation_options.h"

namespace loom::cli {

// Sets one option of `args`. NAME is a flag's name without dashes ("temp", "top-k", "n");
// flags take on/off (or true/false); a list option (stop, stop-token, logit-bias) is set to
// the one VALUE, and an empty VALUE clears it. loom::Error for an unknown name or a value
// of the wrong type, leaving `args` unchanged. Ranges are checked by the engine.
void set_generation_option(GenerationArgs& args, const std::string& name, const std::string& value);

// Every option's name and current value, in the order of --help.
std::vector<std::pair<std::string, std::string>> generation_option_values(
    const GenerationArgs& args);

}  // namespace loom::cli
