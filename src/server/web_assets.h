// The chat page's files (web/ at the repository root), embedded into the binary at build
// time by embed_web.cmake; the generated web_assets.cpp defines web_assets().
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace loom::server {

struct WebAsset {
  std::string_view name;  // file name in web/, e.g. "index.html"
  const unsigned char* data;
  size_t size;
};

// Every embedded file, in the order CMake listed them.
std::span<const WebAsset> web_assets();

}  // namespace loom::server
