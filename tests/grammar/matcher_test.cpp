// The byte matcher accepts exactly the sentences of each grammar.
#include "grammar/matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/compiled_grammar.h"
#include "grammar_test_util.h"

namespace loom::grammar {
namespace {

void expect_language(const std::string& gbnf, const std::vector<std::string>& good,
                     const std::vector<std::string>& bad) {
  GrammarMatcher matcher(compile_gbnf(gbnf));
  for (const std::string& s : good) EXPECT_TRUE(matcher.matches(s)) << "should match: " << s;
  for (const std::string& s : bad) EXPECT_FALSE(matcher.matches(s)) << "should not match: " << s;
}

std::string file(const char* name) {
  return test::read_file(test::data_path(name));
}

TEST(Matcher, Arithmetic) {
  expect_language(file("gbnf/arithmetic.gbnf"),
                  {"1", "0", "1+2", "1 + 2", "(1+2)*3", "-(4 / 2) - -3", "((((7))))",
                   "123456789 * 2", "1+2+3+4+5+6+7+8+9", "(1 + (2 * (3 - 4)))"},
                  {"", "01", "1+", "(1+2", "1++2", "1  + 2", "1+2)", "a", "1234567890", " 1",
                   "1 +2 )", "()", "1 2"});
}

TEST(Matcher, MiniLanguage) {
  expect_language(file("gbnf/minilang.gbnf"),
                  {"x = 1;\n", "print(x);\n", "x = 1;\nwhile (x < 10) {\nx = x + 1;\n}\n",
                   "if (a == b) {\n}\n", "if (a != 0) {\nprint(a * 2);\n} else {\nprint(0);\n}\n",
                   "while (i >= 0) {\nif (i == 3) {\nprint(i);\n}\ni = i - 1;\n}\n"},
                  {"", "x = 1;", "x = 1\n", "X = 1;\n", "while (x) {\n}\n", "if (a == b) {\n}",
                   "print(x)\n", "x = (1;\n", "x = 1234567;\n"});
}

TEST(Matcher, Csv) {
  expect_language(
      file("gbnf/csv.gbnf"),
      {"a,b,c\n1,2,3\n", "name,age,city\n\"Doe, J\",42,\"New\nYork\"\n",
       "a,b,c\n\"x\"\"y\",z,\"\"\n" /* doubled and empty quotes */, "é,ü,ß\n1,2,3\n4,5,6\n"},
      {"a,b,c\n", "a,b\n1,2\n", "a,b,c\n1,2,3", "a,\"b,c\n1,2,3\n", "a,b,c\n1,2,3,4\n",
       "a,b,c\n1,,3\n"});
}

TEST(Matcher, ChessMoves) {
  expect_language(file("gbnf/chess.gbnf"),
                  {"1. e4", "1. e4 e5", "1. e4 e5 2. Nf3 Nc6 3. Bb5 a6", "12. O-O-O Qxd2+",
                   "40. e8=Q# bxa1=N", "7. Nbd2 R1e3"},
                  {"", "1.e4", "1. e9", "1. Pe4", "1. e4 e5 e6", "0. e4", "1. O-O-O-O", "1. e4  e5",
                   "1. Kxx4"});
}

TEST(Matcher, Utf8CharacterClasses) {
  expect_language(R"(root ::= [à-ÿ]+ [^a-z]? "😀"{0,1})", {"à", "éü", "ÿ😀", "àA", "à€😀"},
                  {"", "a", "Ā", "àa", "\xC3", "\xC3\xA9\xA9", "\xE0\x80\x80"});
  // A negated class takes any valid code point outside it, in any UTF-8 length.
  expect_language(R"(root ::= [^"]*)", {"", "abc", "\xF0\x9F\x98\x80", "€"},
                  {"\"", "\xFF", "\xC0\x80", "\xED\xA0\x80" /* surrogate */});
  expect_language("root ::= \"\\u00e9\\x41\"",
                  {"\xC3\xA9"
                   "A"},
                  {"e\xCC\x81"
                   "A"});
}

TEST(Matcher, PrefixesAndEnds) {
  GrammarMatcher matcher(compile_gbnf(R"(root ::= "ab" ("c" | "cd"))"));
  EXPECT_TRUE(matcher.accept("a"));
  EXPECT_FALSE(matcher.can_end());
  EXPECT_FALSE(matcher.accept("x"));  // rejected: the state stays after "a"
  EXPECT_TRUE(matcher.accept("bc"));
  EXPECT_TRUE(matcher.can_end());
  EXPECT_TRUE(matcher.accept("d"));
  EXPECT_TRUE(matcher.can_end());
  EXPECT_FALSE(matcher.accept("d"));
}

TEST(Matcher, BoundedRepetitions) {
  expect_language(R"(root ::= "a"{2} "b"{1,3} "c"{2,} "d"{0,1})",
                  {"aabcc", "aabbbccccc", "aabbccd"}, {"abcc", "aabbbbcc", "aabc", "aabccdd"});
  expect_language(R"(root ::= ("ab" | "c"){2,3})", {"abab", "cab", "ccc", "abcab"},
                  {"ab", "c", "cccc", "aba"});
}

TEST(Matcher, NullableLoops) {
  expect_language(R"(root ::= ("a"?)* "b")", {"b", "ab", "aaab"}, {"", "a", "ba"});
}

TEST(Matcher, CompiledGrammarsAreCachedByText) {
  const auto a = compile_gbnf("root ::= \"x\"");
  const auto b = compile_gbnf("root ::= \"x\"");
  const auto c = compile_gbnf("root ::= \"y\"");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
}

}  // namespace
}  // namespace loom::grammar
