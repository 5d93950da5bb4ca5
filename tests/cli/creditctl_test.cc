#include "cli/creditctl.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

CliRun Creditctl(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = RunCreditctl(args, out, err);
  return {code, out.str(), err.str()};
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CreditctlTest, VersionAndHelp) {
  CliRun version = Creditctl({"--version"});
  EXPECT_EQ(version.code, kExitOk);
  EXPECT_THAT(version.out, HasSubstr("creditctl "));
  CliRun help = Creditctl({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_THAT(help.out, HasSubstr("check"));
}

TEST(CreditctlTest, UnknownVerbIsUsageError) {
  CliRun run = Creditctl({"frobnicate"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("creditctl:"));
}

TEST(CreditctlTest, CheckReportsSyntaxErrors) {
  const std::string bad = WriteTemp("bad.credit", "policy p\ninput x money\n");
  CliRun run = Creditctl({"check", bad});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.err, HasSubstr("error[E0001]"));
  EXPECT_THAT(run.err, HasSubstr("bad.credit:2:9"));

  const std::string good = WriteTemp(
      "good.credit",
      "policy p\n  version 1.0.0\n  effective 2026-01-01\ninput x: money\noutput y: money = x\n");
  CliRun ok = Creditctl({"check", good});
  EXPECT_EQ(ok.code, kExitOk) << ok.err;
}

TEST(CreditctlTest, EvalRefusesAnIntWrittenAsADecimalAndAPercentAsAnInt) {
  const std::string policy =
      WriteTemp("facts.credit",
                "policy p\n  version 1.0.0\n  effective 2026-01-01\n"
                "input years: int\ninput ratio: percent\ninput limit: money\n"
                "output y: money = limit * ratio * years\n");
  const std::string bad = WriteTemp("bad_facts.json", R"({"years": 6.00, "ratio": 1, "limit": 5})");
  CliRun refused = Creditctl({"eval", policy, "--facts", bad});
  EXPECT_EQ(refused.code, kExitFailure);
  EXPECT_THAT(refused.err, HasSubstr("the facts have 2 problems"));
  EXPECT_THAT(refused.err, HasSubstr("years: expected int (a whole number)"));
  EXPECT_THAT(refused.err, HasSubstr("ratio: expected percent"));

  const std::string good =
      WriteTemp("good_facts.json", R"({"years": 6, "ratio": "0.5", "limit": 5})");
  CliRun accepted = Creditctl({"eval", policy, "--facts", good, "--compact"});
  EXPECT_EQ(accepted.code, kExitOk) << accepted.err;
  EXPECT_THAT(accepted.out, HasSubstr(R"("y":"15.00")"));
}

TEST(CreditctlTest, CheckRefusesADeepExpressionWithADiagnostic) {
  // A 20 KB expression of 10,000 terms: this crashed every pass that
  // recursed over the tree.
  std::string text =
      "policy p\n  version 1.0.0\n  effective 2026-01-01\ninput a: int\noutput x: int = a";
  for (int i = 0; i < 10000; ++i) text += " + a";
  const std::string path = WriteTemp("deep.credit", text + "\n");
  CliRun run = Creditctl({"check", path});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.err, HasSubstr("error[E0004]"));
  EXPECT_THAT(run.err, HasSubstr("deep.credit:5:"));
  EXPECT_THAT(run.err, HasSubstr("1 error, 0 warnings"));
}

TEST(CreditctlTest, CheckSaysWhichFileOfADirectoryCannotBeRead) {
  // A FIFO among the policies: refused at once, never waited on.
  const std::string dir = ::testing::TempDir() + "creditctl_fifo";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/good.credit")
      << "policy p\n  version 1.0.0\n  effective 2026-01-01\ninput x: money\noutput y: money = x\n";
  ASSERT_EQ(mkfifo((dir + "/pipe.credit").c_str(), 0600), 0);
  CliRun run = Creditctl({"check", dir});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("`" + dir + "/pipe.credit` is not a regular file: it is a FIFO"));
}

}  // namespace
}  // namespace creditd::cli
