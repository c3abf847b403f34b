// JSON Schema (the subset real applications send) compiled to GBNF, and JSON mode.
//
// Supported: type (with unions), properties, required, additionalProperties (false by
// default only when strict), enum, const, items, prefixItems, minItems/maxItems,
// minLength/maxLength, minimum/maximum/exclusiveMinimum/exclusiveMaximum for integers
// (minimum 0 for numbers), anyOf/oneOf (oneOf as anyOf: alternatives must not overlap),
// allOf with one member, $ref to #, #/$defs/... and #/definitions/... (recursive too),
// nullable, format date/time/date-time/uuid, and pattern for a regex subset (see
// json_regex.h). Annotations (title, description, examples, default, ...) are ignored.
// Any other keyword is a loom::Error naming it and its JSON path, never skipped.
//
// The output has bounded whitespace between tokens (at most a newline and 20 spaces or
// tabs), no whitespace before or after the value, object members in schema order
// (required ones first), and numbers of bounded length.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "grammar/compiled_grammar.h"

namespace loom::grammar {

struct JsonSchemaOptions {
  // OpenAI's strict mode: objects without additionalProperties get no extra members.
  bool strict = false;
};

// GBNF text for `schema_json`; loom::Error "json schema: at #/path: ..." when the text
// is not JSON or the schema uses what cannot be enforced.
std::string json_schema_to_gbnf(std::string_view schema_json,
                                const JsonSchemaOptions& options = {});
// json_schema_to_gbnf() then compile_gbnf() (cached by the GBNF text).
std::shared_ptr<const CompiledGrammar> compile_json_schema(std::string_view schema_json,
                                                           const JsonSchemaOptions& options = {});

// JSON mode: any JSON object.
std::string json_object_gbnf();
std::shared_ptr<const CompiledGrammar> compile_json_object();

}  // namespace loom::grammar
