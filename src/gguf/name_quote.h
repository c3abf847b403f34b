// Quotes a key or tensor name read from a file for an error message: non-printable bytes
// are escaped and long names shortened, so a hostile name cannot flood or garble a log.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace loom::gguf {

inline std::string quote_name(std::string_view name) {
  constexpr size_t kMaxShown = 96;
  std::string out = "'";
  for (size_t k = 0; k < name.size() && k < kMaxShown; ++k) {
    const auto c = static_cast<unsigned char>(name[k]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += name.size() > kMaxShown ? fmt::format("'... ({} bytes)", name.size()) : "'";
  return out;
}

}  // namespace loom::gguf
