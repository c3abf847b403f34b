// An OpenAI-style error: the HTTP status and the body
// {"error": {"message", "type", "param", "code"}} that clients such as the openai SDK parse.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace loom::server {

struct ApiError : std::runtime_error {
  int status;
  std::string type;   // "invalid_request_error", "authentication_error", ...
  std::string param;  // the offending request field; empty = null
  std::string code;   // machine-readable reason; empty = null

  ApiError(int status, std::string message, std::string param = {},
           std::string type = "invalid_request_error", std::string code = {})
      : std::runtime_error(std::move(message)),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}

  nlohmann::json body() const {
    nlohmann::json error = {{"message", what()},
                            {"type", type},
                            {"param", param.empty() ? nlohmann::json() : nlohmann::json(param)},
                            {"code", code.empty() ? nlohmann::json() : nlohmann::json(code)}};
    return {{"error", error}};
  }
};

// A 400 naming the field.
inline ApiError bad_field(const std::string& param, const std::string& message) {
  return ApiError(400, message, param);
}

}  // namespace loom::server
