// Built-in chat formats for models without a template of their own (or when one is asked
// for by name). Each is written as the Jinja source its model family ships, and rendered
// by the same interpreter, so the two cannot disagree.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace loom::chat {

const std::vector<std::string>& builtin_template_names();
// The Jinja source of a built-in template; nullopt for an unknown name.
std::optional<std::string> builtin_template_source(const std::string& name);

}  // namespace loom::chat
