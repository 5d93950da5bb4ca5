#include "engine/suggest.h"

#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

TEST(SuggestTest, TheClosestLikelyTypo) {
  const std::vector<std::string> names = {"credit_limit", "exposure", "segment", "LIMIT_EXCEEDED"};
  EXPECT_EQ(Closest("credit_limt", names), "credit_limit");      // a letter left out
  EXPECT_EQ(Closest("exposrue", names), "exposure");             // two letters swapped
  EXPECT_EQ(Closest("Segment", names), "segment");               // letter case
  EXPECT_EQ(Closest("LIMIT_EXCEDED", names), "LIMIT_EXCEEDED");  // a reason code
  EXPECT_EQ(Closest("debt_ratio", names), std::nullopt);         // nothing close
  EXPECT_EQ(Closest("segment", names), std::nullopt);            // not misspelt at all
  EXPECT_EQ(Closest("", names), std::nullopt);
  EXPECT_EQ(Closest(std::string(10000, 'x'), names), std::nullopt);  // long text: no work
}

TEST(SuggestTest, ShortNamesAreSuggestedOnlyForLetterCase) {
  EXPECT_EQ(Closest("E", {"A", "B", "C", "D"}), std::nullopt);
  EXPECT_EQ(Closest("a", {"A", "B"}), "A");
  EXPECT_EQ(Closest("lim", {"limit", "lime"}), "lime");  // 1 edit for up to 4 characters
}

TEST(SuggestTest, DidYouMeanSaysSoOrNothing) {
  EXPECT_EQ(DidYouMean("exposrue", {"exposure"}), "did you mean `exposure`?");
  EXPECT_EQ(DidYouMean("zzz", {"exposure"}), "");
}

}  // namespace
}  // namespace creditd::engine
