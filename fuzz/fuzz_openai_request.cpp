// libFuzzer target: the OpenAI request parser takes any body for /v1/completions,
// /v1/chat/completions and /infill (the first byte picks which); a bad request is an
// ApiError (a 4xx the server sends back), never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "loom/error.h"
#include "server/api_error.h"
#include "server/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  loom::server::ParseLimits limits;
  limits.n_vocab = 32000;
  limits.draft_max = 8;
  try {
    switch (data[0] % 3) {
      case 0:
        loom::server::parse_generation_request(body, false, limits);
        break;
      case 1:
        loom::server::parse_generation_request(body, true, limits);
        break;
      default:
        loom::server::parse_infill_request(body, limits);
    }
  } catch (const loom::server::ApiError&) {
  } catch (const loom::Error&) {
  }
  return 0;
}
