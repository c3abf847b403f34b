// Test helper: renders a Jinja template file with a JSON context file using loom's
// interpreter, so a node test can compare it with the reference renderer
// (@huggingface/jinja). Prints the text; on a template error prints "ERROR: message"
// to stdout and exits with 2.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chat/jinja.h"
#include "loom/error.h"

namespace {

// ordered_json keeps the objects' key order (as JSON.parse and Python's json do), which
// tojson and dict iteration show.
loom::chat::Value from_json(const nlohmann::ordered_json& j) {
  using loom::chat::Value;
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
    case nlohmann::ordered_json::value_t::number_unsigned:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      loom::chat::Array items;
      for (const auto& item : j) items.push_back(from_json(item));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value object = Value::dict();
      for (const auto& [k, v] : j.items()) object.set(k, from_json(v));
      return object;
    }
    default:
      return Value();
  }
}

std::string read(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: chat_render_tool TEMPLATE.jinja CONTEXT.json\n";
    return 1;
  }
  try {
    const auto context = nlohmann::ordered_json::parse(read(argv[2]));
    std::cout << loom::chat::render_jinja(read(argv[1]), from_json(context));
  } catch (const loom::Error& e) {
    std::cout << "ERROR: " << e.what();
    return 2;
  }
  return 0;
}
