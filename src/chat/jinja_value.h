// The values a Jinja template computes with: Python-like dynamic types. Arrays and
// objects are shared by reference (as in Python), so namespace() attributes and
// list.append() mutate what every name bound to them sees.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace loom::chat {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // insertion order, as Python dicts
struct CallArgs;
using Function = std::function<Value(CallArgs&)>;

struct Value {
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kFunction };
  Type type = Type::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<Array> array;
  std::shared_ptr<Object> object;
  std::shared_ptr<Function> function;

  static Value none() { return make(Type::kNone); }
  static Value boolean(bool v) {
    Value x = make(Type::kBool);
    x.b = v;
    return x;
  }
  static Value integer(int64_t v) {
    Value x = make(Type::kInt);
    x.i = v;
    return x;
  }
  static Value number(double v) {
    Value x = make(Type::kFloat);
    x.f = v;
    return x;
  }
  static Value string(std::string v) {
    Value x = make(Type::kString);
    x.s = std::move(v);
    return x;
  }
  static Value list(Array v = {}) {
    Value x = make(Type::kArray);
    x.array = std::make_shared<Array>(std::move(v));
    return x;
  }
  static Value dict(Object v = {}) {
    Value x = make(Type::kObject);
    x.object = std::make_shared<Object>(std::move(v));
    return x;
  }
  static Value callable(Function fn) {
    Value x = make(Type::kFunction);
    x.function = std::make_shared<Function>(std::move(fn));
    return x;
  }

  bool is_undefined() const { return type == Type::kUndefined; }
  bool is_none() const { return type == Type::kNone; }
  bool is_string() const { return type == Type::kString; }
  bool is_array() const { return type == Type::kArray; }
  bool is_object() const { return type == Type::kObject; }
  bool is_number() const { return type == Type::kInt || type == Type::kFloat; }

  // Object member or nullptr.
  const Value* find(const std::string& key) const {
    if (!object) return nullptr;
    for (const auto& [k, v] : *object) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  void set(const std::string& key, Value value) {
    for (auto& [k, v] : *object) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    object->emplace_back(key, std::move(value));
  }

 private:
  static Value make(Type t) {
    Value x;
    x.type = t;
    return x;
  }
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* get(size_t index, const char* name) const {
    if (index < positional.size()) return &positional[index];
    for (const auto& [k, v] : keyword) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

}  // namespace loom::chat
