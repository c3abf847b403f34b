// Garbage in, loom::Error out: mutated grammars, schemas and patterns never crash.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/error.h"
#include "grammar/compiled_grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar_test_util.h"

namespace loom::grammar {
namespace {

std::string mutate(std::string text, std::mt19937& rng) {
  const std::string alphabet = "()[]{}|*+?^-\\\"'.:=# \n\t,0123456789azAZ\xC3\xA9\xFF";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !text.empty(); ++i) {
    const size_t at = rng() % text.size();
    switch (rng() % 3) {
      case 0:
        text[at] = alphabet[rng() % alphabet.size()];
        break;
      case 1:
        text.erase(at, 1 + rng() % 3);
        break;
      default:
        text.insert(at, 1, alphabet[rng() % alphabet.size()]);
        break;
    }
  }
  return text;
}

TEST(GrammarFuzz, MutatedGrammarsParseOrFailCleanly) {
  const std::string seeds[] = {test::read_file(test::data_path("gbnf/arithmetic.gbnf")),
                               test::read_file(test::data_path("gbnf/minilang.gbnf")),
                               test::read_file(test::data_path("gbnf/csv.gbnf"))};
  std::mt19937 rng(11);
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = mutate(seeds[i % 3], rng);
    try {
      GrammarMatcher matcher(compile_gbnf(text));
      matcher.accept("1+(2*3)");
      ++parsed;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(parsed, 0);
}

TEST(GrammarFuzz, MutatedSchemasConvertOrFailCleanly) {
  const std::string seeds[] = {
      test::read_file(test::data_path("schemas/29_invoice.json")),
      test::read_file(test::data_path("schemas/25_pattern_phone_email.json")),
      test::read_file(test::data_path("schemas/06_recursive_tree.json"))};
  std::mt19937 rng(12);
  for (int i = 0; i < 3000; ++i) {
    try {
      compile_json_schema(mutate(seeds[i % 3], rng));
    } catch (const Error&) {
    }
  }
}

TEST(GrammarFuzz, DeepNestingIsAnErrorNotACrash) {
  EXPECT_THROW(
      compile_gbnf("root ::= " + std::string(100000, '(') + "\"a\"" + std::string(100000, ')')),
      Error);
  std::string schema;
  for (int i = 0; i < 1000; ++i) schema += R"({"type": "array", "items": )";
  schema += "{}" + std::string(1000, '}');
  EXPECT_THROW(json_schema_to_gbnf(schema), Error);
  EXPECT_THROW(json_schema_to_gbnf(R"({"type": "string", "pattern": ")" + std::string(5000, '(') +
                                   std::string(5000, ')') + "\"}"),
               Error);
}

}  // namespace
}  // namespace loom::grammar
