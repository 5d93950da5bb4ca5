#include "server/policy_watch.h"

#include "gtest/gtest.h"

namespace creditd::server {
namespace {

TEST(SettledChangeTest, ReloadsOnceTheChangeHasStayedTheSameForAPeriod) {
  SettledChange change("t0");
  EXPECT_FALSE(change.Due("t0"));  // nothing changed
  // A file written in place: its first half, then the rest a moment later.
  EXPECT_FALSE(change.Due("t1"));  // the first half: too fresh to load
  EXPECT_FALSE(change.Due("t2"));  // still being written
  EXPECT_TRUE(change.Due("t2"));   // settled: loaded whole
  EXPECT_FALSE(change.Due("t2"));  // loaded already
}

TEST(SettledChangeTest, AChangeDuringTheLoadIsLoadedAgainOnceSettled) {
  SettledChange change("t0");
  EXPECT_FALSE(change.Due("t1"));
  EXPECT_TRUE(change.Due("t1"));
  // The load found a file changing under it (refused); the file's new time
  // shows at the next period.
  EXPECT_FALSE(change.Due("t3"));
  EXPECT_TRUE(change.Due("t3"));
}

TEST(SettledChangeTest, ADirectoryThatCannotBeLookedAtReloadsOnce) {
  SettledChange change("t0");
  const std::string error = "PERMISSION_DENIED: open the directory: Permission denied";
  EXPECT_FALSE(change.Due(error));
  EXPECT_TRUE(change.Due(error));  // the reload reports the problem
  EXPECT_FALSE(change.Due(error));
  EXPECT_FALSE(change.Due("t0"));
  EXPECT_TRUE(change.Due("t0"));  // readable again, as before: reloaded
}

}  // namespace
}  // namespace creditd::server
