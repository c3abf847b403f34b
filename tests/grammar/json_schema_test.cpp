// The JSON Schema converter: exact languages for integer ranges and patterns, and an
// error naming keyword and path for everything it cannot enforce.
#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "grammar/json_integer_range.h"
#include "grammar/matcher.h"

namespace loom::grammar {
namespace {

std::string error_of(const std::string& schema, JsonSchemaOptions options = {}) {
  try {
    json_schema_to_gbnf(schema, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

GrammarMatcher matcher_for(const std::string& schema, JsonSchemaOptions options = {}) {
  return GrammarMatcher(compile_json_schema(schema, options));
}

TEST(JsonSchema, IntegerRangesAreExact) {
  const std::vector<std::pair<std::optional<int64_t>, std::optional<int64_t>>> ranges = {
      {0, 0},     {0, 9},        {1, 10},  {-5, 5},  {-120, -7}, {17, 342},
      {100, 999}, {99, 1000},    {-1, {}}, {{}, -3}, {250, {}},  {{}, 77},
      {0, {}},    {-1000, 1000}, {5, 5},   {10, 19}, {-10, -10}, {1900, 2100}};
  for (const auto& [lo, hi] : ranges) {
    GrammarMatcher matcher(compile_gbnf("root ::= " + integer_range_gbnf(lo, hi)));
    for (int64_t v = -1300; v <= 2300; ++v) {
      const bool expected = (!lo || v >= *lo) && (!hi || v <= *hi);
      ASSERT_EQ(matcher.matches(std::to_string(v)), expected)
          << v << " in [" << (lo ? std::to_string(*lo) : "-inf") << ", "
          << (hi ? std::to_string(*hi) : "inf") << "]";
    }
    EXPECT_FALSE(matcher.matches("-0"));
    EXPECT_FALSE(matcher.matches("007"));
  }
}

TEST(JsonSchema, PatternsMatchLikeStdRegex) {
  const std::vector<std::string> patterns = {"^[0-9]{5}(-[0-9]{4})?$",
                                             "^[A-Z]{3}-\\d{3}$",
                                             "^(cat|dog)s?$",
                                             "^a.c$",
                                             "^\\w+\\s\\w+$",
                                             "^[^0-9]{1,3}$",
                                             "^x*y+z?$",
                                             "^(ab){2,}$",
                                             "^[a-c\\-]+$",
                                             "^\\.\\*\\(\\)$",
                                             "^(?:ha){1,2}!$"};
  const std::vector<std::string> samples = {
      "12345", "12345-6789", "1234", "ABC-123", "AB-123",      "cat",          "dogs",   "cats!",
      "abc",   "a\"c",       "axc",  "ac",      "hello world", "hello  world", "x",      "",
      "abc1",  "yy",         "xyz",  "xxyyz",   "z",           "abab",         "ababab", "ab",
      "a-c",   "d",          ".*()", "ha!",     "haha!",       "hahaha!"};
  for (const std::string& pattern : patterns) {
    // JSON-encode the pattern for the schema text.
    std::string escaped;
    for (char c : pattern)
      escaped += (c == '\\' || c == '"') ? std::string("\\") + c : std::string(1, c);
    GrammarMatcher matcher = matcher_for(R"({"type": "string", "pattern": ")" + escaped + "\"}");
    const std::regex re(pattern);
    for (const std::string& sample : samples) {
      std::string json = "\"";
      for (char c : sample) json += c == '"' ? std::string("\\\"") : std::string(1, c);
      json += "\"";
      EXPECT_EQ(matcher.matches(json), std::regex_match(sample, re))
          << "pattern " << pattern << " on " << json;
    }
  }
}

TEST(JsonSchema, FormatsAndLengths) {
  GrammarMatcher date = matcher_for(R"({"type": "string", "format": "date"})");
  EXPECT_TRUE(date.matches("\"2024-02-28\""));
  EXPECT_TRUE(date.matches("\"2024-12-31\""));
  EXPECT_FALSE(date.matches("\"2024-02-30\""));
  EXPECT_FALSE(date.matches("\"2024-04-31\""));
  EXPECT_FALSE(date.matches("\"2024-13-01\""));
  EXPECT_TRUE(date.matches("\"0001-01-01\""));
  EXPECT_TRUE(date.matches("\"2000-01-01\""));
  EXPECT_FALSE(date.matches("\"0000-01-01\""));  // Python's date rejects year 0
  GrammarMatcher uuid = matcher_for(R"({"type": "string", "format": "uuid"})");
  EXPECT_TRUE(uuid.matches("\"123e4567-e89b-12d3-a456-426614174000\""));
  EXPECT_FALSE(uuid.matches("\"123e4567e89b12d3a456426614174000\""));
  GrammarMatcher stamp = matcher_for(R"({"type": "string", "format": "date-time"})");
  EXPECT_TRUE(stamp.matches("\"2024-01-05T23:59:59Z\""));
  EXPECT_TRUE(stamp.matches("\"2024-01-05T00:00:00.123+02:00\""));
  EXPECT_FALSE(stamp.matches("\"2024-01-05 00:00:00Z\""));
  GrammarMatcher len = matcher_for(R"({"type": "string", "minLength": 2, "maxLength": 3})");
  EXPECT_FALSE(len.matches("\"a\""));
  EXPECT_TRUE(len.matches("\"ab\""));
  EXPECT_TRUE(len.matches("\"a\\nb\""));  // an escape is one character
  EXPECT_TRUE(len.matches("\"äöü\""));
  EXPECT_FALSE(len.matches("\"abcd\""));
}

TEST(JsonSchema, ObjectsRequiredOptionalAndStrict) {
  const std::string schema =
      R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
          "required": ["b"]})";
  GrammarMatcher loose = matcher_for(schema);
  EXPECT_TRUE(loose.matches(R"({"b":true})"));
  EXPECT_TRUE(loose.matches(R"({ "b" : false , "a" : 3 })"));
  EXPECT_TRUE(loose.matches(R"({"b":true,"c":[1,{"d":null}]})"));  // additional allowed
  EXPECT_FALSE(loose.matches(R"({"b":true,"a":1,"a":2})"));        // no known key twice
  EXPECT_FALSE(loose.matches(R"({"a":1})"));
  EXPECT_FALSE(loose.matches(R"({"b":true,"b":false})"));
  JsonSchemaOptions strict;
  strict.strict = true;
  GrammarMatcher tight = matcher_for(schema, strict);
  EXPECT_TRUE(tight.matches(R"({"b":true,"a":1})"));
  EXPECT_FALSE(tight.matches(R"({"b":true,"c":1})"));
  // Whitespace is bounded: a newline and at most 20 spaces or tabs.
  EXPECT_TRUE(tight.matches("{\n" + std::string(20, ' ') + "\"b\":true}"));
  EXPECT_FALSE(tight.matches("{\n" + std::string(21, ' ') + "\"b\":true}"));
  EXPECT_FALSE(tight.matches(" {\"b\":true}"));
}

TEST(JsonSchema, JsonModeIsAnyObject) {
  GrammarMatcher json(compile_json_object());
  EXPECT_TRUE(json.matches(R"({})"));
  EXPECT_TRUE(json.matches(R"({"a": [1, 2.5e-3, "x", null, true, {"b": {}}]})"));
  EXPECT_FALSE(json.matches(R"([1])"));
  EXPECT_FALSE(json.matches(R"("text")"));
  EXPECT_FALSE(json.matches(R"({"a": 01})"));
  EXPECT_FALSE(json.matches(R"({"a": "\x"})"));
}

struct ErrorCase {
  const char* schema;
  const char* message;
};

TEST(JsonSchema, UnsupportedKeywordsAreErrorsNamingKeywordAndPath) {
  const ErrorCase cases[] = {
      {R"~({"type": "integer", "multipleOf": 3})~", "at #/multipleOf: keyword 'multipleOf'"},
      {R"~({"type": "number", "multipleOf": 0.5})~", "at #/multipleOf: keyword 'multipleOf'"},
      {R"~({"type": "number", "maximum": 5})~",
       "at #/maximum: keyword 'maximum' is not supported for numbers"},
      {R"~({"type": "number", "exclusiveMinimum": 0})~", "at #/exclusiveMinimum"},
      {R"~({"type": "number", "minimum": 1})~", "at #/minimum: keyword 'minimum'"},
      {R"~({"type": "object", "patternProperties": {"^x": {}}})~",
       "at #/patternProperties: keyword 'patternProperties'"},
      {R"~({"type": "object", "propertyNames": {"maxLength": 3}})~", "at #/propertyNames"},
      {R"~({"type": "object", "minProperties": 1})~", "at #/minProperties"},
      {R"~({"type": "object", "maxProperties": 1})~", "at #/maxProperties"},
      {R"~({"type": "object", "dependentRequired": {}})~", "at #/dependentRequired"},
      {R"~({"type": "object", "dependentSchemas": {}})~", "at #/dependentSchemas"},
      {R"~({"type": "object", "dependencies": {}})~", "at #/dependencies"},
      {R"~({"type": "object", "unevaluatedProperties": false})~", "at #/unevaluatedProperties"},
      {R"~({"type": "array", "uniqueItems": true})~",
       "at #/uniqueItems: keyword 'uniqueItems' cannot be enforced"},
      {R"~({"type": "array", "contains": {"type": "integer"}})~",
       "at #/contains: keyword 'contains'"},
      {R"~({"type": "array", "minContains": 1})~", "at #/minContains"},
      {R"~({"type": "array", "unevaluatedItems": false})~", "at #/unevaluatedItems"},
      {R"~({"not": {"type": "string"}})~", "at #/not: keyword 'not'"},
      {R"~({"if": {}, "then": {}, "else": {}})~", "at #/if: keyword 'if'"},
      {R"~({"type": "string", "contentEncoding": "base64"})~", "at #/contentEncoding"},
      {R"~({"type": "string", "format": "email"})~",
       "at #/format: format \"email\" is not supported"},
      {R"~({"type": "string", "format": "date", "maxLength": 3})~",
       "at #/format: 'format' together"},
      {R"~({"type": "string", "pattern": "^a$", "maxLength": 3})~",
       "at #/pattern: 'pattern' together"},
      {R"~({"type": "string", "pattern": "a(?=b)"})~",
       "at #/pattern: pattern \"a(?=b)\": lookaround"},
      {R"~({"type": "string", "pattern": "(a)\\1"})~", "a backreference"},
      {R"~({"type": "string", "pattern": "\\bword"})~", "an anchor '\\b'"},
      {R"~({"type": "string", "pattern": "a^b"})~", "'^' inside the pattern"},
      {R"~({"type": "string", "pattern": "(ab"})~", "unclosed '('"},
      {R"~({"type": "string", "pattern": "[ab"})~", "unclosed '['"},
      {R"~({"type": "string", "pattern": "*a"})~", "nothing to repeat"},
      {R"~({"type": "string", "pattern": "a{3,1}"})~", "n < m"},
      {R"~({"type": "string", "pattern": "a++"})~", "a possessive quantifier"},
      {R"~({"type": "string", "maxLength": 100000})~", "at #/maxLength: 'maxLength' above 5000"},
      {R"~({"type": "string", "minLength": 5, "maxLength": 2})~", "maxLength is below minLength"},
      {R"~({"type": "string", "minLength": -1})~",
       "at #/minLength: 'minLength' must be a non-negative integer"},
      {R"~({"type": "array", "minItems": 3, "maxItems": 1})~", "no array length fits"},
      {R"~({"type": "array", "maxItems": 5000})~", "'maxItems' above 1000"},
      {R"~({"type": "integer", "minimum": 5, "maximum": 1})~", "no integer lies between"},
      {R"~({"type": "integer", "minimum": 1e20})~", "beyond 1e15"},
      {R"~({"allOf": [{"type": "string"}, {"maxLength": 3}]})~",
       "at #/allOf: keyword 'allOf' is supported only with one schema"},
      {R"~({"$ref": "https://example.com/s.json"})~",
       "at #/$ref: '$ref' \"https://example.com/s.json\" is not supported"},
      {R"~({"$ref": "#/$defs/missing"})~", "does not point into the schema"},
      {R"~({"$defs": {"a": {"type": "string"}}, "$ref": "#/$defs/a", "maxLength": 3})~",
       "at #/maxLength: keyword 'maxLength' next to '$ref'"},
      {R"~({"anyOf": [{"type": "string"}], "minLength": 3})~",
       "at #/minLength: keyword 'minLength' next to 'anyOf'"},
      {R"~({"anyOf": []})~", "at #/anyOf: 'anyOf' must be a non-empty array"},
      {R"~({"enum": []})~", "'enum' must be a non-empty array"},
      {R"~({"type": "strin"})~", "at #/type: unknown type \"strin\""},
      {R"~({"type": 3})~", "'type' must be a string or a non-empty array"},
      {R"~(false)~", "at #: the schema `false` matches no value"},
      {R"~({"properties": {"a": false}, "required": ["a"]})~",
       "at #/properties/a: the schema `false`"},
      {R"~(3)~", "a schema must be an object or a boolean"},
      {R"~({"type": "object", "required": ["x"]})~", "required property \"x\" has no schema"},
      {R"~({"type": "object", "properties": {"a~b/c": {"type": "integer", "foo": 1}}})~",
       "at #/properties/a~0b~1c/foo: keyword 'foo' is not supported"},
      {R"~({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "string", "format": "ipv4"}}}})~",
       "at #/properties/list/items/format"},
      {R"~({"nullable": "yes", "type": "string"})~", "at #/nullable: must be a boolean"},
      {R"~({"type": "object",)~", "json schema: not valid JSON"},
      // Found by fuzzing: a number beyond a double escaped as the parser's out_of_range.
      {R"~({"type": "integer", "minimum": 1e999})~", "json schema: not valid JSON"},
  };
  for (const ErrorCase& c : cases) {
    const std::string message = error_of(c.schema);
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "schema: " << c.schema << "\nerror: " << message << "\nexpected: " << c.message;
    EXPECT_EQ(message.rfind("json schema: ", 0), 0u) << message;
  }
}

TEST(JsonSchema, ConstAndEnumMayNameTheirType) {
  GrammarMatcher kind = matcher_for(R"({"type": "string", "const": "circle"})");
  EXPECT_TRUE(kind.matches("\"circle\""));
  EXPECT_FALSE(kind.matches("\"square\""));
  GrammarMatcher level = matcher_for(R"({"type": "integer", "enum": [1, 2, 3]})");
  EXPECT_TRUE(level.matches("2"));
  EXPECT_FALSE(level.matches("4"));
}

TEST(JsonSchema, OpenApiNumberFormats) {
  GrammarMatcher int32 = matcher_for(R"({"type": "integer", "format": "int32"})");
  EXPECT_TRUE(int32.matches("-2147483648"));
  EXPECT_TRUE(int32.matches("2147483647"));
  EXPECT_FALSE(int32.matches("2147483648"));
  EXPECT_NO_THROW(json_schema_to_gbnf(R"({"type": "number", "format": "double"})"));
  EXPECT_NE(error_of(R"({"type": "integer", "format": "uuid"})")
                .find("at #/format: format \"uuid\" is not supported for this type"),
            std::string::npos);
}

TEST(JsonSchema, AnnotationsAreAccepted) {
  EXPECT_NO_THROW(json_schema_to_gbnf(
      R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "title": "T",
          "description": "d", "examples": [1], "default": 1, "$comment": "c", "deprecated": false,
          "readOnly": false, "writeOnly": false, "type": "integer"})"));
}

TEST(JsonSchema, RecursiveRefsCompile) {
  GrammarMatcher tree = matcher_for(
      R"({"$defs": {"t": {"type": "object", "properties": {"c": {"type": "array",
          "items": {"$ref": "#/$defs/t"}}}, "additionalProperties": false}}, "$ref": "#/$defs/t"})");
  EXPECT_TRUE(tree.matches(R"({"c":[{},{"c":[{"c":[]}]}]})"));
  EXPECT_FALSE(tree.matches(R"({"c":[{"d":1}]})"));
  GrammarMatcher self = matcher_for(R"({"type": "array", "items": {"$ref": "#"}, "maxItems": 2})");
  EXPECT_TRUE(self.matches("[[],[[]]]"));
  EXPECT_FALSE(self.matches("[[],[],[]]"));
}

}  // namespace
}  // namespace loom::grammar
