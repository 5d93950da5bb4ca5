#include "engine/versions.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

TEST(VersionsTest, OrderedBySemanticVersionPrecedence) {
  // Each before the next (semver.org, item 11).
  const std::vector<std::string> ordered = {"0.9.9",
                                            "1.0.0-alpha",
                                            "1.0.0-alpha.1",
                                            "1.0.0-alpha.beta",
                                            "1.0.0-beta",
                                            "1.0.0-beta.2",
                                            "1.0.0-beta.11",
                                            "1.0.0-rc.1",
                                            "1.0.0",
                                            "1.2.0",
                                            "1.10.0",
                                            "1.10.1",
                                            "2.0.0",
                                            "10.0.0",
                                            "99999999999999999999.0.0"};
  for (size_t i = 0; i < ordered.size(); ++i) {
    EXPECT_EQ(CompareVersions(ordered[i], ordered[i]), 0) << ordered[i];
    for (size_t j = i + 1; j < ordered.size(); ++j) {
      EXPECT_LT(CompareVersions(ordered[i], ordered[j]), 0) << ordered[i] << " < " << ordered[j];
      EXPECT_GT(CompareVersions(ordered[j], ordered[i]), 0) << ordered[j] << " > " << ordered[i];
    }
  }
}

TEST(VersionsTest, EqualPrecedenceIsOrderedByTextSoTheOrderIsTotal) {
  EXPECT_NE(CompareVersions("1.0.0", "01.0.0"), 0);
  EXPECT_EQ(CompareVersions("1.0.0", "01.0.0"), -CompareVersions("01.0.0", "1.0.0"));
  // Numbers by value, whatever their leading zeros.
  EXPECT_LT(CompareVersions("01.2.0", "1.10.0"), 0);
}

TEST(VersionsTest, EffectiveDateBeginsAtMidnightInTheZone) {
  absl::StatusOr<absl::Time> utc = EffectiveInstant("2027-01-01", absl::UTCTimeZone());
  ASSERT_TRUE(utc.ok()) << utc.status();
  EXPECT_EQ(*utc, absl::FromUnixSeconds(1798761600));  // 2027-01-01T00:00:00Z
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  absl::StatusOr<absl::Time> there = EffectiveInstant("2027-01-01", berlin);
  ASSERT_TRUE(there.ok());
  EXPECT_EQ(*there, *utc - absl::Hours(1));  // 2026-12-31T23:00:00Z
  // Where the clocks skip midnight, the day begins when they jump: Chile went
  // from 00:00 to 01:00 on 2022-09-11.
  absl::TimeZone santiago;
  ASSERT_TRUE(absl::LoadTimeZone("America/Santiago", &santiago));
  absl::StatusOr<absl::Time> skipped = EffectiveInstant("2022-09-11", santiago);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *skipped, absl::UTCTimeZone()),
            "2022-09-11T04:00:00Z");
  EXPECT_FALSE(EffectiveInstant("2027-02-30", absl::UTCTimeZone()).ok());
}

}  // namespace
}  // namespace creditd::engine
