// A Jinja interpreter for chat templates: the subset that real models' templates use
// (if/elif/else, for with loop.*, set and namespace(), macros, filters, tests, string
// and dict methods, raise_exception). Anything else is an error naming the construct.
#pragma once

#include <string>

#include "chat/jinja_value.h"

namespace loom::chat {

// Renders `source` with the variables of `context` (an object). Throws loom::Error.
std::string render_jinja(const std::string& source, const Value& context);

// Python-like conversion of a value to text ({{ value }}).
std::string to_text(const Value& value);

}  // namespace loom::chat
