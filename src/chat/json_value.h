// JSON text to template values, keeping objects' key order (as Python's json and
// JSON.parse do), which tojson and dict iteration show.
#pragma once

#include <string_view>

#include "chat/jinja_value.h"

namespace loom::chat {

// loom::Error naming `what` when `text` is not JSON.
Value value_from_json(std::string_view text, std::string_view what);

}  // namespace loom::chat
