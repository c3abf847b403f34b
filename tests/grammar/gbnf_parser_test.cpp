// GBNF syntax: what parses, and the error (with line and column) for what does not.
#include "grammar/gbnf_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace loom::grammar {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_gbnf(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GbnfParser, ParsesTheNotation) {
  const Grammar g = parse_gbnf(R"(
# a comment
root ::= item ("," ws item)*   # trailing comment
item ::= [a-z]+ | "\"" [^"\\]* "\"" | digit{1,3} | "\x41\u00e9\U0001F600" | .
digit ::= [0-9]
ws ::= [ \t\n]{0,4}
opt ::= "a"? "b"{2} "c"{1,} ("d" | "e"){2,3}
)");
  EXPECT_EQ(g.rules[g.root].name, "root");
  EXPECT_GT(g.rules.size(), 5u);
}

TEST(GbnfParser, RulesMayContinueOverLines) {
  const Grammar g = parse_gbnf("root ::=\n  \"a\"\n  | \"b\"\nother ::= \"c\"\n");
  EXPECT_EQ(g.rules[g.root].alternatives.size(), 2u);
}

struct ErrorCase {
  const char* grammar;
  const char* message;
};

TEST(GbnfParser, ErrorsNameLineAndColumn) {
  const ErrorCase cases[] = {
      {"", "the grammar is empty"},
      {"  # only a comment\n", "the grammar is empty"},
      {"root ::= foo", "line 1, column 10: undefined rule 'foo'"},
      {"root ::= \"a\"\n\nx ::= \"b\" y", "line 3, column 11: undefined rule 'y'"},
      {"item ::= \"a\"", "no rule named 'root'"},
      {"root ::= \"abc", "line 1, column 10: unterminated string literal"},
      {"root ::= [a-z", "line 1, column 10: unterminated character class"},
      {"root ::= [z-a]", "line 1, column 11: character range is reversed"},
      {"root ::= (\"a\" | \"b\"", "line 1, column 10: this '(' is never closed"},
      {"root ::= \"a\")", "line 1, column 13: unmatched ')'"},
      {"root ::= * \"a\"", "line 1, column 10: '*' has nothing before it to repeat"},
      {"root ::= \"a\" | +", "line 1, column 16: '+' has nothing before it to repeat"},
      {"root ::= \"a\"{3,1}", "line 1, column 13: repetition {3,1} has max < min"},
      {"root ::= \"a\"{x}", "line 1, column 14: expected a number"},
      {"root ::= \"a\"{2", "line 1, column 15: expected '}' to close the repetition"},
      {"root ::= \"a\"{99999}", "repetition count above the limit"},
      {"root ::= \"\\q\"", "line 1, column 11: unknown escape '\\q'"},
      {"root ::= \"\\x4\"", "line 1, column 11: an escape needs 2 hex digits"},
      {"root ::= \"\\U00110000\"", "beyond U+10FFFF"},
      {"root \"a\"", "line 1, column 6: expected '::=' after the rule name 'root'"},
      {"root ::= \"a\"\nroot ::= \"b\"", "line 2, column 1: rule 'root' is defined twice"},
      {"::= \"a\"", "line 1, column 1: expected a rule name"},
      {"root ::= \"a\" @", "line 1, column 14: unexpected '@'"},
      {"root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]",
       "line 2, column 1: left recursion: rule 'expr'"},
      {"root ::= a\na ::= b \"x\"\nb ::= \"y\"? a | \"z\"", "left recursion"},
      {"root ::= a\na ::= b\nb ::= \"c\" | a \"d\"", "line 3, column 1: left recursion"},
      {"root ::= \"x\" root", "line 1, column 1: rule 'root' can never finish"},
      {"root ::= a\na ::= \"(\" a \")\"", "line 2, column 1: rule 'a' can never finish"},
  };
  for (const ErrorCase& c : cases) {
    const std::string message = error_of(c.grammar);
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "grammar: " << c.grammar << "\nerror: " << message << "\nexpected: " << c.message;
    EXPECT_EQ(message.rfind("grammar: ", 0), 0u) << message;
  }
}

TEST(GbnfParser, ColumnsCountCharactersNotBytes) {
  EXPECT_NE(error_of("root ::= \"é\" bad").find("column 14"), std::string::npos);
}

TEST(GbnfParser, RightRecursionAndNullableLoopsAreFine) {
  EXPECT_NO_THROW(parse_gbnf("root ::= \"x\" root | \"y\""));
  EXPECT_NO_THROW(parse_gbnf("root ::= (\"a\"?)* \"b\""));
  EXPECT_NO_THROW(parse_gbnf("root ::= a\na ::= b\nb ::= \"c\" | \"d\" a"));
}

}  // namespace
}  // namespace loom::grammar
