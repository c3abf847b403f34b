// Jinja's value semantics and built-ins: truthiness, comparison, indexing, filters,
// tests, string/dict/list methods and global functions.
#pragma once

#include <string>

#include "chat/jinja_value.h"

namespace loom::chat {

const char* type_name(const Value& v);
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);
int compare(const Value& a, const Value& b, int line);
bool contains(const Value& haystack, const Value& needle, int line);
Value get_item(const Value& object, const Value& key);
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step,
            int line);
// JSON text as Python's json.dumps writes it (", " and ": " separators), as tojson does.
std::string to_json(const Value& v, int indent = -1, int depth = 0);

// raise_exception, namespace, range, strftime_now, dict; undefined for other names.
Value global_function(const std::string& name);
Value call_method(const Value& object, const std::string& name, CallArgs& args, int line);
Value apply_filter(const std::string& name, const Value& value, CallArgs& args, int line);
bool apply_test(const std::string& name, const Value& value, CallArgs& args, int line);

}  // namespace loom::chat
