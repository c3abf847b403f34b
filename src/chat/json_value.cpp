#include "chat/json_value.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace loom::chat {
namespace {

using Json = nlohmann::ordered_json;

Value convert(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return Value::none();
    case Json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return Value::integer(j.get<int64_t>());
    case Json::value_t::number_float:
      return Value::number(j.get<double>());
    case Json::value_t::string:
      return Value::string(j.get<std::string>());
    case Json::value_t::array: {
      Array items;
      for (const Json& item : j) items.push_back(convert(item));
      return Value::list(std::move(items));
    }
    case Json::value_t::object: {
      Value object = Value::dict();
      for (const auto& [k, v] : j.items()) object.set(k, convert(v));
      return object;
    }
    default:
      return Value();
  }
}

}  // namespace

Value value_from_json(std::string_view text, std::string_view what) {
  try {
    return convert(Json::parse(text));
  } catch (const Json::exception& e) {  // parse_error, or out_of_range (1e999)
    fail("chat template: {} is not valid JSON: {}", what, e.what());
  }
}

}  // namespace loom::chat
