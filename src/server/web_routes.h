// The web chat page at / (web/ embedded at build time). The page and its files are served
// without the API key, so the page can load and ask for it; every API call still needs it.
#pragma once

#include <httplib.h>

#include <string_view>

namespace loom::server {

// GET / (index.html) and GET /<file> for every embedded file.
void register_web_routes(httplib::Server& http);

// Whether `path` is the page or one of its files (exempt from the API key).
bool is_web_path(std::string_view path);

}  // namespace loom::server
