// libFuzzer target: the JSON-Schema compiler takes any text (strict and not); a schema it
// cannot enforce is a loom::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "grammar/json_schema.h"
#include "loom/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool strict = (data[0] & 1) != 0;
  try {
    loom::grammar::compile_json_schema(
        std::string(reinterpret_cast<const char*>(data) + 1, size - 1), {.strict = strict});
  } catch (const loom::Error&) {
  }
  return 0;
}
