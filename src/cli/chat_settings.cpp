#include "cli/chat_settings.h"

#include <fmt/core.h>

#include "loom/error.h"

namespace loom::cli {
namespace {

CLI::Option* find_option(CLI::App& app, const std::string& name) {
  if (name.empty() || name[0] == '-') return nullptr;
  CLI::Option* option = app.get_option_no_throw("--" + name);
  if (option == nullptr && name.size() == 1) option = app.get_option_no_throw("-" + name);
  return option;
}

std::string known_names(CLI::App& app) {
  std::string names;
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_single_name() == "help") continue;
    names += (names.empty() ? "" : ", ") + option->get_single_name();
  }
  return names;
}

// CLI11 keeps no value string for a flag; the group has these two.
std::string flag_value(const GenerationArgs& args, const std::string& name) {
  const bool on = name == "ignore-eos" ? args.ignore_eos : args.json_object;
  return on ? "on" : "off";
}

}  // namespace

void set_generation_option(GenerationArgs& args, const std::string& name,
                           const std::string& value) {
  GenerationArgs changed = args;
  CLI::App app;
  add_generation_options(app, changed, "");
  CLI::Option* option = find_option(app, name);
  if (option == nullptr) {
    throw Error(fmt::format("unknown setting '{}'; the settings are: {}", name, known_names(app)));
  }
  const std::string& long_name = option->get_single_name();
  const bool is_list = option->get_items_expected_max() > 1;
  if (value.empty() && is_list) {
    // CLI11 cannot parse an empty list: the lists are cleared here.
    if (long_name == "stop") changed.stop.clear();
    if (long_name == "stop-token") changed.stop_tokens.clear();
    if (long_name == "logit-bias") changed.logit_bias.clear();
  } else if (value.empty()) {
    throw Error(fmt::format("/set {} needs a value", long_name));
  } else {
    // The value as if given once on the command line (a flag takes on/off, true/false).
    option->add_result(value);
    try {
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw Error(fmt::format("{} {}: {}", long_name, value, e.what()));
    }
  }
  args = changed;
}

std::vector<std::pair<std::string, std::string>> generation_option_values(
    const GenerationArgs& args) {
  GenerationArgs copy = args;
  CLI::App app;
  add_generation_options(app, copy, "");
  std::vector<std::pair<std::string, std::string>> values;
  for (CLI::Option* option : app.get_options()) {
    if (option->get_single_name() == "help") continue;
    option->capture_default_str();  // the value bound now, i.e. the current one
    std::string value = option->get_default_str();
    if (option->get_expected_max() == 0) value = flag_value(args, option->get_single_name());
    values.emplace_back(option->get_single_name(), value);
  }
  return values;
}

}  // namespace loom::cli
