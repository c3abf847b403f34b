// libFuzzer target: the Jinja parser and renderer take any template text and render it
// with a chat-like context (messages, tools, flags); a bad template is a loom::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/jinja.h"
#include "chat/jinja_value.h"
#include "loom/error.h"

namespace {

loom::chat::Value context() {
  using loom::chat::Value;
  auto message = [](const char* role, const char* content) {
    return Value::dict({{"role", Value::string(role)}, {"content", Value::string(content)}});
  };
  Value tool = Value::dict(
      {{"type", Value::string("function")},
       {"function",
        Value::dict({{"name", Value::string("get_weather")},
                     {"parameters", Value::dict({{"type", Value::string("object")}})}})}});
  return Value::dict({{"messages", Value::list({message("system", "Be brief."),
                                                message("user", "Hi <think> {{x}}"),
                                                message("assistant", "Hello.")})},
                      {"tools", Value::list({tool})},
                      {"bos_token", Value::string("<s>")},
                      {"eos_token", Value::string("</s>")},
                      {"add_generation_prompt", Value::boolean(true)}});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const loom::chat::Value ctx = context();
  try {
    (void)loom::chat::render_jinja(std::string(reinterpret_cast<const char*>(data), size), ctx);
  } catch (const loom::Error&) {
  }
  return 0;
}
