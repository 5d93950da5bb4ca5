#include "server/challenger.h"

#include <string>

#include "gtest/gtest.h"
#include "server/server_options.h"

namespace creditd::server {
namespace {

TEST(ChallengerShareTest, TakesPercentagesWithAtMostTwoDecimals) {
  EXPECT_EQ(*ParseChallengerShare("10%"), 1000);
  EXPECT_EQ(*ParseChallengerShare("2.5%"), 250);
  EXPECT_EQ(*ParseChallengerShare("0.01%"), 1);
  EXPECT_EQ(*ParseChallengerShare("100%"), 10000);
  EXPECT_EQ(*ParseChallengerShare("100.00%"), 10000);
  for (const char* bad : {"", "%", "10", "0%", "0.00%", "100.01%", "101%", "1000%", "-5%", "5.%",
                          ".5%", "5.123%", "1e1%", " 5%", "5 %", "5,5%", "0.001%"}) {
    absl::StatusOr<int> share = ParseChallengerShare(bad);
    EXPECT_FALSE(share.ok()) << bad;
    if (!share.ok()) {
      EXPECT_NE(share.status().message().find("--challenger_share"), std::string::npos);
    }
  }
}

TEST(ChallengerShareTest, BucketsAreStickyAndSpread) {
  // The documented formula: the first 8 bytes of sha256("C-1"), big-endian,
  // modulo 10000 (computed independently), the same on every server.
  EXPECT_EQ(ChallengerBucket("C-1"), 1992);
  int below_half = 0;
  for (int i = 0; i < 2000; ++i) {
    const int b = ChallengerBucket("customer-" + std::to_string(i));
    ASSERT_GE(b, 0);
    ASSERT_LT(b, 10000);
    below_half += b < 5000;
  }
  EXPECT_GT(below_half, 850);  // about half: 1000 ± 150
  EXPECT_LT(below_half, 1150);
  Challenger none("dir", 1);
  EXPECT_FALSE(none.Chosen(""));  // no customer, no challenger
  Challenger all("dir", 10000);
  EXPECT_TRUE(all.Chosen("anyone"));
  EXPECT_FALSE(all.Chosen(""));
}

TEST(ChallengerShareTest, OptionsComeTogether) {
  ServerOptions options;
  options.challenger_dir = "challenger";
  EXPECT_FALSE(Validate(options).ok());
  options.challenger_share = "10%";
  EXPECT_TRUE(Validate(options).ok());
  options.challenger_share = "ten";
  EXPECT_FALSE(Validate(options).ok());
  options.challenger_share = "10%";
  options.challenger_dir = options.policy_dir;
  EXPECT_FALSE(Validate(options).ok());
  options.challenger_dir.clear();
  EXPECT_FALSE(Validate(options).ok());
}

}  // namespace
}  // namespace creditd::server
