// loom::fail: throws the one exception type every layer uses for bad input or a failed
// operation (loom::Error, declared in the public include/loom/error.h).
#pragma once

#include <fmt/format.h>

#include <string>

#include "loom/error.h"

namespace loom {

// Throws loom::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Throws loom::FieldError: the message, and the request field it is about.
template <typename... Args>
[[noreturn]] void fail_field(std::string field, fmt::format_string<Args...> format,
                             Args&&... args) {
  throw FieldError(std::move(field), fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace loom
