// The exception type of every loom function: its message names what is wrong (a key, a
// tensor, a byte offset, a parameter) and, where it helps, what to do next.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace loom {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A bad value in one field of a Request (or its SamplingOptions): field() names it as the
// C++ API spells it ("temperature", "stop_tokens", "json_schema", "prompt" ...), so a
// server can tell its client which parameter to fix without reading the message.
class FieldError : public Error {
 public:
  FieldError(std::string field, const std::string& message)
      : Error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace loom
