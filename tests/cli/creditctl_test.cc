#include "cli/creditctl.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "audit/sqlite_audit.h"
#include "engine/bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/decide.h"
#include "tests/cli/cli_run.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;

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
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  ASSERT_FALSE(error) << error.message();
  std::ofstream(dir + "/good.credit")
      << "policy p\n  version 1.0.0\n  effective 2026-01-01\ninput x: money\noutput y: money = x\n";
  ASSERT_EQ(mkfifo((dir + "/pipe.credit").c_str(), 0600), 0);
  // As creditd loads the directory: files named inside it, the whole
  // directory refused.
  CliRun run = Creditctl({"check", dir});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.err,
              HasSubstr("error[E0008]: `pipe.credit` is not a regular file: it is a FIFO"));
  CliRun json = Creditctl({"check", "--format", "json", dir});
  EXPECT_EQ(json.code, kExitFailure);
  EXPECT_THAT(json.out,
              HasSubstr(R"("message": "`pipe.credit` is not a regular file: it is a FIFO")"));
}

std::string Versioned(const std::string& version, const std::string& effective, int limit) {
  return "policy p\n  version " + version + "\n  effective " + effective +
         "\ninput a: int\noutput big: bool = a > " + std::to_string(limit) + "\n";
}

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + name;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  EXPECT_FALSE(error) << dir << ": " << error.message();
  return dir;
}

// check, eval and creditd share one loader: several versions side by side,
// the one in force picked by date, ties by semantic version.
TEST(CreditctlTest, EvalTakesTheVersionInForceOnADay) {
  const std::string dir = FreshDir("creditctl_versions");
  std::ofstream(dir + "/p.credit") << Versioned("1.0.0", "2026-01-01", 10);
  std::ofstream(dir + "/p-1.1.0.credit") << Versioned("1.1.0", "2026-07-01", 20);
  std::ofstream(dir + "/p-1.2.0.credit") << Versioned("1.2.0", "2099-01-01", 30);
  const std::string facts = WriteTemp("versions_facts.json", R"({"a": 15})");
  CliRun check = Creditctl({"check", dir});
  EXPECT_EQ(check.code, kExitOk) << check.err;
  auto version_on = [&](const std::string& day) {
    CliRun run = Creditctl({"eval", dir, "-d", "p", "-f", facts, "--compact", "--as-of", day});
    EXPECT_EQ(run.code, kExitOk) << run.err;
    return run.out;
  };
  EXPECT_THAT(version_on("2026-03-01"), HasSubstr(R"("version":"1.0.0")"));
  EXPECT_THAT(version_on("2026-03-01"), HasSubstr(R"("big":true)"));
  EXPECT_THAT(version_on("2026-07-01"), HasSubstr(R"("version":"1.1.0")"));
  EXPECT_THAT(version_on("2099-01-01"), HasSubstr(R"("version":"1.2.0")"));
  CliRun early = Creditctl({"eval", dir, "-d", "p", "-f", facts, "--as-of", "2025-12-31"});
  EXPECT_EQ(early.code, kExitFailure);
  EXPECT_THAT(early.err, HasSubstr("no version of `p` is in force on 2025-12-31: the first, "
                                   "1.0.0, is effective 2026-01-01"));
  CliRun bad = Creditctl({"eval", dir, "-d", "p", "-f", facts, "--as-of", "2026-02-30"});
  EXPECT_EQ(bad.code, kExitUsage);
  // One version in two files: check and eval refuse it alike.
  std::ofstream(dir + "/p-copy.credit") << Versioned("1.1.0", "2026-07-01", 20);
  CliRun twice = Creditctl({"check", dir});
  EXPECT_EQ(twice.code, kExitFailure);
  EXPECT_THAT(twice.err, HasSubstr("error[E0601]: p-copy.credit:2:3: version 1.1.0 of `p` is "
                                   "also in `p-1.1.0.credit`, with the same text"));
  CliRun refused = Creditctl({"eval", dir, "-d", "p", "-f", facts});
  EXPECT_EQ(refused.code, kExitFailure);
  EXPECT_THAT(refused.err, HasSubstr("error[E0601]"));
}

// With --audit, the versions a log has served are candidates too, and the
// directory is held against them as creditd holds it at start.
TEST(CreditctlTest, AuditLogVersionsAreCandidatesAndBindTheirText) {
  const std::string dir = FreshDir("creditctl_audit_versions");
  const std::string log = ::testing::TempDir() + "creditctl_versions.db";
  std::error_code absent;  // a file not there is what we want
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(log + suffix, absent);
  std::ofstream(dir + "/p.credit") << Versioned("1.0.0", "2026-01-01", 10);
  {
    engine::DiskFileReader reader;
    absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(dir, reader);
    ASSERT_TRUE(load.ok() && load->bundle != nullptr);
    auto sink = audit::SqliteAuditSink::Open(log, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)
                    ->StorePolicy(server::SourceToStore(
                        *load->bundle->decisions.at("p").versions.at(0).policy))
                    .ok());
  }
  // 1.0.0 leaves the directory for 1.1.0, effective later.
  std::error_code error;
  ASSERT_TRUE(std::filesystem::remove(dir + "/p.credit", error)) << error.message();
  std::ofstream(dir + "/p-1.1.0.credit") << Versioned("1.1.0", "2026-07-01", 20);
  const std::string facts = WriteTemp("audit_versions_facts.json", R"({"a": 15})");
  CliRun logged = Creditctl(
      {"eval", dir, "-d", "p", "-f", facts, "--compact", "--as-of", "2026-03-01", "--audit", log});
  EXPECT_EQ(logged.code, kExitOk) << logged.err;
  EXPECT_THAT(logged.out, HasSubstr(R"("version":"1.0.0")"));
  CliRun without = Creditctl({"eval", dir, "-d", "p", "-f", facts, "--as-of", "2026-03-01"});
  EXPECT_EQ(without.code, kExitFailure);
  // Other text under 1.0.0 contradicts the log: refused, named.
  std::ofstream(dir + "/p.credit") << Versioned("1.0.0", "2026-01-01", 11);
  CliRun check = Creditctl({"check", dir, "--audit", log});
  EXPECT_EQ(check.code, kExitFailure);
  EXPECT_THAT(check.err, HasSubstr("error[E0602]: p.credit:2:3: version 1.0.0 of `p` was served "
                                   "before with other text"));
  EXPECT_EQ(Creditctl({"check", dir}).code, kExitOk);
  CliRun file = Creditctl({"eval", dir + "/p.credit", "-f", facts, "--audit", log});
  EXPECT_EQ(file.code, kExitUsage);
}

}  // namespace
}  // namespace creditd::cli
