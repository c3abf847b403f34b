// Small helpers the public-API tests share: a greedy request and the message of the
// loom::Error a call throws.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "loom/loom.h"

namespace loom::testing_support {

// `max_tokens` greedy tokens after `prompt`, end of generation ignored.
inline Request greedy(std::string prompt, int64_t max_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  return r;
}

// What f throws as loom::Error, or "" when it throws nothing.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace loom::testing_support
