// Serves the embedded chat page. Responses carry a strong ETag and `Cache-Control:
// no-cache`: the browser keeps its copy but revalidates it (a 304 when unchanged), so a
// new loom binary never leaves a stale page behind. A Content-Security-Policy limits the
// page to this server: no inline scripts, no request to another origin.
#include "server/web_routes.h"

#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "server/web_assets.h"

namespace loom::server {
namespace {

constexpr const char* kIndex = "index.html";

std::string_view content_type(std::string_view name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".js") || ends_with(".mjs")) return "text/javascript; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".json")) return "application/json";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

// FNV-1a 64 of the bytes: the ETag changes whenever the embedded file does.
std::string etag_of(const WebAsset& asset) {
  uint64_t hash = 14695981039346656037ull;
  for (size_t i = 0; i < asset.size; ++i) {
    hash = (hash ^ asset.data[i]) * 1099511628211ull;
  }
  return fmt::format("\"{:016x}\"", hash);
}

// httplib routes are regular expressions: escape the file name's dots and the like.
std::string route_for(std::string_view name) {
  std::string pattern = "/";
  for (char c : name) {
    if (std::string_view(".+*?()[]{}|^$\\").find(c) != std::string_view::npos) pattern += '\\';
    pattern += c;
  }
  return pattern;
}

httplib::Server::Handler serve(const WebAsset& asset) {
  return [&asset, etag = etag_of(asset)](const httplib::Request& req, httplib::Response& res) {
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                   "base-uri 'none'; frame-ancestors 'none'");
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    res.set_content(reinterpret_cast<const char*>(asset.data), asset.size,
                    std::string(content_type(asset.name)).c_str());
  };
}

}  // namespace

void register_web_routes(httplib::Server& http) {
  for (const WebAsset& asset : web_assets()) {
    http.Get(route_for(asset.name), serve(asset));
    if (asset.name == kIndex) http.Get("/", serve(asset));
  }
}

bool is_web_path(std::string_view path) {
  if (path == "/") return true;
  if (path.empty() || path[0] != '/') return false;
  for (const WebAsset& asset : web_assets()) {
    if (path.substr(1) == asset.name) return true;
  }
  return false;
}

}  // namespace loom::server
