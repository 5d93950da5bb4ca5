// What a policy author meets in creditctl: test files found by their
// policy's name, a clean check that says so, fmt that takes a directory,
// shows a diff and rewrites files whole.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/creditctl.h"
#include "cli/text_diff.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_run.h"
#include "tests/engine/test_files.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;

using engine::testing::MakeDir;
using engine::testing::Write;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

constexpr char kPolicy[] =
    "policy credit_check\n  version 1.0.0\n  effective 2026-01-01\n\n"
    "input exposure: money\noutput high: bool = exposure > 1000\n";

constexpr char kTests[] = R"({"cases": [
  {"name": "low", "facts": {"exposure": "10.00"}, "expect": {"outputs": {"high": false}}},
  {"name": "high", "facts": {"exposure": "5000.00"}, "expect": {"outputs": {"high": true}}}
]})";

TEST(AuthoringTest, ATestFileIsForThePolicyOfItsWholeName) {
  const std::string dir = MakeDir("versioned_tests");
  Write(dir + "/credit_check-1.0.0.credit", kPolicy);
  Write(dir + "/credit_check-1.0.0.tests.json", kTests);
  CliRun run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("2 cases: 2 passed, 0 failed"));
}

TEST(AuthoringTest, ATestFileWithoutItsPolicyIsAUsageError) {
  const std::string dir = MakeDir("orphan_tests");
  Write(dir + "/credit_check-1.0.0.tests.json", kTests);
  CliRun run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("credit_check-1.0.0.tests.json tests `" + dir +
                                 "/credit_check-1.0.0.credit`, which is not there"));
  Write(dir + "/named.tests.json", R"({"policy": "elsewhere.credit", "cases": []})");
  CliRun named = Creditctl({"test", dir + "/named.tests.json"});
  EXPECT_EQ(named.code, kExitUsage);
  EXPECT_THAT(named.err, HasSubstr("elsewhere.credit`, which is not there"));
}

TEST(AuthoringTest, ACleanCheckSaysSo) {
  const std::string dir = MakeDir("clean_check");
  Write(dir + "/credit_check.credit", kPolicy);
  CliRun file = Creditctl({"check", dir + "/credit_check.credit"});
  EXPECT_EQ(file.code, kExitOk) << file.err;
  EXPECT_EQ(file.out, "no errors, no warnings\n");
  CliRun directory = Creditctl({"check", dir});
  EXPECT_EQ(directory.code, kExitOk) << directory.err;
  EXPECT_EQ(directory.out, "no errors, no warnings\n");
}

TEST(AuthoringTest, FmtChecksADirectoryAndShowsHowAFileDiffers) {
  const std::string dir = MakeDir("fmt_dir");
  const std::string untidy =
      "policy credit_check\n  version 1.0.0\n  effective 2026-01-01\n\n"
      "input exposure:money\noutput high: bool = exposure>1000\n";
  Write(dir + "/credit_check.credit", untidy);
  const std::string canonical =
      "policy credit_check\n  version 1.0.0\n  effective 2026-01-01\n\n"
      "input exposure: money\n\noutput high: bool = exposure > 1000\n";
  Write(dir + "/tidy.credit", canonical);
  ASSERT_EQ(chmod((dir + "/credit_check.credit").c_str(), 0640), 0);

  CliRun check = Creditctl({"fmt", "--check", dir});
  EXPECT_EQ(check.code, kExitFailure);
  const std::string path = dir + "/credit_check.credit";
  EXPECT_EQ(check.out, "--- " + path + "\n+++ " + path +
                           " (canonical)\n"
                           "@@ -2,5 +2,6 @@\n"
                           "   version 1.0.0\n"
                           "   effective 2026-01-01\n"
                           " \n"
                           "-input exposure:money\n"
                           "-output high: bool = exposure>1000\n"
                           "+input exposure: money\n"
                           "+\n"
                           "+output high: bool = exposure > 1000\n");
  EXPECT_THAT(check.err, HasSubstr("1 file is not canonical"));
  EXPECT_EQ(Read(path), untidy);  // --check changes nothing

  CliRun write = Creditctl({"fmt", "-w", dir});
  EXPECT_EQ(write.code, kExitOk) << write.err;
  EXPECT_EQ(Read(path), canonical);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);  // rewritten whole, its permissions kept
  std::error_code error;
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp", error));

  CliRun again = Creditctl({"fmt", "--check", dir});
  EXPECT_EQ(again.code, kExitOk) << again.out;
  EXPECT_EQ(again.out, "");
}

// An input read only by an output's expression, or by a rule's effect, is
// read: explain shows its value.
TEST(AuthoringTest, ExplainShowsInputsThatOnlyOutputsRead) {
  const std::string dir = MakeDir("explain_reads");
  Write(dir + "/o.credit",
        "policy o\n  version 1.0.0\n  effective 2026-01-01\n\n"
        "input exposure: money\ninput limit: money\ninput bonus: money\ninput unused: int\n\n"
        "output headroom: money = limit - exposure\noutput extra: money = 0\n\n"
        "rule more\n  when exposure > 0\n  then set extra = bonus\n");
  Write(dir + "/o.json",
        R"({"exposure": "10.00", "limit": "50.00", "bonus": "7.00", "unused": 1})");
  CliRun run = Creditctl({"explain", dir + "/o.credit", "-f", dir + "/o.json"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("  exposure  10"));
  EXPECT_THAT(run.out, HasSubstr("  limit     50"));
  EXPECT_THAT(run.out, HasSubstr("  bonus     7"));
  EXPECT_THAT(run.out, HasSubstr("  unused    (not read)\n"));
}

// A failing percent is shown as the case writes it: percent points against
// percent points, a fraction against a fraction.
TEST(AuthoringTest, APercentThatDiffersIsShownAsTheCaseWroteIt) {
  const std::string dir = MakeDir("percent_shown");
  Write(dir + "/pc.credit",
        "policy pc\n  version 1.0.0\n  effective 2026-01-01\n\n"
        "input rate: percent\noutput used: percent = rate * 2\n");
  Write(dir + "/pc.tests.json", R"({"cases": [
    {"name": "points", "facts": {"rate": "0.3333"}, "expect": {"outputs": {"used": "66.65%"}}},
    {"name": "fraction", "facts": {"rate": "0.3333"}, "expect": {"outputs": {"used": "0.6665"}}},
    {"name": "right", "facts": {"rate": "0.3333"}, "expect": {"outputs": {"used": "66.66%"}}}
  ]})");
  CliRun run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.out, HasSubstr("outputs.used: expected \"66.65%\", got \"66.66%\""));
  EXPECT_THAT(run.out, HasSubstr("outputs.used: expected \"0.6665\", got \"0.6666\""));
  EXPECT_THAT(run.out, HasSubstr("3 cases: 1 passed, 2 failed"));
}

TEST(UnifiedDiffTest, HunksWithContextAsDiffPrintsThem) {
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nb\n", "x", "y"), "");
  EXPECT_EQ(UnifiedDiff("a\nb\nc\n", "a\nB\nc\n", "x", "y"),
            "--- x\n+++ y\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
  // Changes more than twice the context apart are separate hunks.
  EXPECT_EQ(UnifiedDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\nX\n3\n4\n5\n6\n7\n8\nY\n", "x", "y", 1),
            "--- x\n+++ y\n@@ -1,3 +1,3 @@\n 1\n-2\n+X\n 3\n@@ -8,2 +8,2 @@\n 8\n-9\n+Y\n");
  EXPECT_EQ(UnifiedDiff("", "a\n", "x", "y"), "--- x\n+++ y\n@@ -0,0 +1 @@\n+a\n");
  EXPECT_EQ(UnifiedDiff("a", "a\n", "x", "y"),
            "--- x\n+++ y\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n");
}

TEST(UnifiedDiffTest, ManyDifferencesBecomeOneHunkOfTheWholeText) {
  std::string before, after;
  for (int i = 0; i < 3000; ++i) {
    before += "a" + std::to_string(i) + "\n";
    after += "b" + std::to_string(i) + "\n";
  }
  const std::string diff = UnifiedDiff(before, after, "x", "y");
  EXPECT_THAT(diff, HasSubstr("@@ -1,3000 +1,3000 @@\n-a0\n"));
  EXPECT_THAT(diff, HasSubstr("\n-a2999\n+b0\n"));
}

constexpr char kDunning[] =
    "policy steps\n  version 1.0.0\n  effective 2026-01-01\n  edition 2\n\n"
    "reason LATE \"{days} days overdue, {share} of the limit\"\n"
    "input due_date: date\ninput used: money >= 0\ninput limit: money > 0\n"
    "let days = today - due_date\n"
    "let share = round(percent(used / limit), 2)\n"
    "output overdue: int = days\noutput utilisation: percent = share\n"
    "rule late\n  when days > 30\n  then reason LATE\n";

// `today` in tests: the file's or the case's "evaluation_date", never the
// clock's; a policy that reads it fails a case that gives none, saying why.
TEST(AuthoringTest, TestCasesGiveTheEvaluationDate) {
  const std::string dir = MakeDir("evaluation_date_tests");
  Write(dir + "/steps.credit", kDunning);
  Write(dir + "/steps.tests.json", R"({"evaluation_date": "2026-11-30", "cases": [
    {"name": "file's date", "facts": {"due_date": "2026-10-01", "used": "551.23", "limit": 1000},
     "expect": {"outputs": {"overdue": 60, "utilisation": "55.12%"},
                "messages": {"LATE": "60 days overdue, 55.12% of the limit"}}},
    {"name": "own date", "evaluation_date": "2026-10-11",
     "facts": {"due_date": "2026-10-01", "used": "551.23", "limit": 1000},
     "expect": {"outputs": {"overdue": 10}, "reasons": []}}
  ]})");
  CliRun run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("2 cases: 2 passed, 0 failed"));

  // A wrong message, and an edition 2 percent shown as a percent.
  Write(dir + "/steps.tests.json", R"({"evaluation_date": "2026-11-30", "cases": [
    {"name": "wrong", "facts": {"due_date": "2026-10-01", "used": "551.23", "limit": 1000},
     "expect": {"outputs": {"utilisation": "0.55"}, "messages": {"LATE": "late"}}}
  ]})");
  run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.out, HasSubstr("outputs.utilisation: expected \"0.55\", got \"55.12%\""));
  EXPECT_THAT(run.out, HasSubstr("messages.LATE: expected \"late\", got \"60 days overdue, "
                                 "55.12% of the limit\""));

  Write(dir + "/steps.tests.json", R"({"cases": [
    {"name": "no date", "facts": {"due_date": "2026-10-01", "used": "1", "limit": 1000},
     "expect": {"outputs": {"overdue": 60}}}
  ]})");
  run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.out, HasSubstr("give the case or the file an \"evaluation_date\""));

  Write(dir + "/steps.tests.json", R"({"evaluation_date": "2026-02-30", "cases": []})");
  run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("\"evaluation_date\" must be a date"));
}

TEST(AuthoringTest, EvalTakesTheEvaluationDateAndShowsPercentsAsPercents) {
  const std::string dir = MakeDir("evaluation_date_eval");
  Write(dir + "/steps.credit", kDunning);
  Write(dir + "/facts.json", R"({"due_date": "2026-10-01", "used": "551.23", "limit": 1000})");
  CliRun run = Creditctl({"eval", dir + "/steps.credit", "-f", dir + "/facts.json",
                          "--evaluation-date", "2026-11-30", "--compact"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\"evaluation_date\":\"2026-11-30\""));
  EXPECT_THAT(run.out, HasSubstr("\"overdue\":60"));
  EXPECT_THAT(run.out, HasSubstr("\"utilisation\":\"55.12%\""));
  EXPECT_THAT(run.out, HasSubstr("60 days overdue, 55.12% of the limit"));
  run = Creditctl({"eval", dir + "/steps.credit", "-f", dir + "/facts.json", "--evaluation-date",
                   "30.11.2026"});
  EXPECT_EQ(run.code, kExitUsage);
  run = Creditctl({"explain", dir + "/steps.credit", "-f", dir + "/facts.json", "--evaluation-date",
                   "2026-11-30"});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("evaluation date: 2026-11-30"));
}

}  // namespace
}  // namespace creditd::cli
