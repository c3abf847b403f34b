// The exception type of every loom function: its message names what is wrong (a key, a
// tensor, a byte offset, a parameter) and, where it helps, what to do next.
#pragma once

#include <stdexcept>
#include <string>

namespace loom {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace loom
