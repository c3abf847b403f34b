// libFuzzer target: the GBNF compiler takes any text; a bad grammar is a loom::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "grammar/compiled_grammar.h"
#include "loom/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    loom::grammar::compile_gbnf(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const loom::Error&) {
  }
  return 0;
}
