#include "api/stop_matcher.h"

#include <gtest/gtest.h>

namespace loom {
namespace {

// Feeds pieces one at a time and returns what the user would have seen.
std::string stream(StopMatcher& m, std::initializer_list<std::string> pieces) {
  std::string shown;
  for (const std::string& p : pieces) shown += m.push(p);
  return shown + m.flush();
}

TEST(StopMatcher, SplitAcrossPieces) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abc S"), "abc ");
  EXPECT_EQ(m.push("TO"), "");
  EXPECT_EQ(m.push("Pxyz"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, FalseStartIsReleased) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(stream(m, {"ST", "OR", "Y"}), "STORY");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, OverlappingStopStringsEarliestWins) {
  StopMatcher m({"abcd", "bc"});
  EXPECT_EQ(stream(m, {"xa", "b", "cd"}), "x");  // "abcd" starts before "bc"
  EXPECT_TRUE(m.stopped());
  StopMatcher n({"aab"});
  EXPECT_EQ(stream(n, {"a", "a", "a", "b"}), "a");  // "aaab": the match starts at 1
}

TEST(StopMatcher, StopAtTheVeryStart) {
  StopMatcher m({"Once"});
  EXPECT_EQ(stream(m, {"Once", " upon"}), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, MultiByteCharactersNearAStop) {
  StopMatcher m({"é!"});
  EXPECT_EQ(m.push("caf"), "caf");
  EXPECT_EQ(m.push("é"), "");  // could begin the stop string
  EXPECT_EQ(m.push("?"), "é?");
  EXPECT_EQ(m.push("é"), "");
  EXPECT_EQ(m.push("!"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, NoStopsPassesEverything) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
  StopMatcher e({""});  // an empty stop string never matches
  EXPECT_EQ(e.push("abc"), "abc");
}

}  // namespace
}  // namespace loom
