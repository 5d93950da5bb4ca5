// creditctl diff: files, directories and git revisions compared by meaning,
// as text and JSON, with the exit codes of diff.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/creditctl.h"
#include "cli/git_revision.h"
#include "engine/program.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/cli/cli_run.h"
#include "tests/engine/test_files.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using engine::testing::Edit;
using engine::testing::MakeDir;
using engine::testing::Write;

std::string ReferenceCheck() {
  engine::DiskFileReader reader;
  absl::StatusOr<std::string> text = reader.Read("policies/examples/credit_check.credit");
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// The medium risk limit cut from 300,000 to 250,000 and the tolerance from
// 5% to 3%, as version 1.1.0.
std::string ReferenceChange() {
  std::string text = Edit(ReferenceCheck(), "=> 300_000,", "=> 250_000,");
  text = Edit(text, "let tolerance = 5%", "let tolerance = 3%");
  return Edit(text, "version 1.0.0", "version 1.1.0");
}

constexpr char kSmall[] =
    "policy small\n  version 1.0.0\n  effective 2026-01-01\n\n"
    "input amount: money >= 0\noutput high: bool = amount > 1_000\n";

TEST(DiffTest, TheReferenceChangeBetweenTwoFiles) {
  const std::string dir = MakeDir("diff_files");
  Write(dir + "/old/credit_check.credit", ReferenceCheck());
  Write(dir + "/new/credit_check.credit", ReferenceChange());
  const CliRun run =
      Creditctl({"diff", dir + "/old/credit_check.credit", dir + "/new/credit_check.credit"});
  EXPECT_EQ(run.code, kExitFailure) << run.err;
  EXPECT_EQ(run.out,
            "credit_check 1.0.0 → 1.1.0\n"
            "  ~ header version: 1.0.0 → 1.1.0   credit_check.credit:2\n"
            "  ~ let tolerance: 5% → 3%   credit_check.credit:27\n"
            "  ~ table category_terms row 2 (medium) limit: 300000 → 250000   "
            "credit_check.credit:32\n"
            "3 changes, 0 break callers\n");
  EXPECT_THAT(run.out, Not(HasSubstr(dir)));
}

TEST(DiffTest, FormattingOnlyIsAnEmptyDiff) {
  const std::string dir = MakeDir("diff_format");
  Write(dir + "/old/small.credit", kSmall);
  Write(dir + "/new/small.credit",
        "# reformatted\npolicy small version 1.0.0 effective 2026-01-01\n"
        "input amount: money >= 0.00\n\n\noutput high: bool = (amount > 1000)\n");
  const CliRun run = Creditctl({"diff", dir + "/old", dir + "/new"});
  EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_EQ(run.out, "");
  const CliRun json = Creditctl({"diff", "--format", "json", dir + "/old", dir + "/new"});
  EXPECT_EQ(json.code, kExitOk);
  rapidjson::Document document;
  document.Parse(json.out.c_str());
  ASSERT_FALSE(document.HasParseError()) << json.out;
  EXPECT_EQ(document["changes"].GetInt(), 0);
  EXPECT_EQ(document["decisions"].Size(), 0u);
}

TEST(DiffTest, BreakingChangesAreMarked) {
  const std::string dir = MakeDir("diff_breaking");
  const std::string two = Edit(kSmall, "2026-01-01\n", "2026-01-01\n  edition 2\n");
  Write(dir + "/old/small.credit", two);
  Write(dir + "/new/small.credit",
        Edit(two, "input amount", "input manual_limit: money?\ninput term: int\ninput amount"));
  const CliRun run = Creditctl({"diff", dir + "/old", dir + "/new"});
  EXPECT_EQ(run.code, kExitFailure) << run.err;
  EXPECT_THAT(run.out, HasSubstr("  + input manual_limit: money? (optional)   small.credit:6\n"));
  EXPECT_THAT(run.out, HasSubstr("  ! + input term: int   small.credit:7   breaks callers: a new "
                                 "required input: requests without it are refused\n"));
  EXPECT_THAT(run.out, HasSubstr("2 changes, 1 breaks callers\n"));
}

TEST(DiffTest, DirectoriesMatchDecisionsByNameAndTakeTheLatestVersion) {
  const std::string dir = MakeDir("diff_dirs");
  Write(dir + "/old/credit_check.credit", ReferenceCheck());
  Write(dir + "/old/small.credit", kSmall);
  Write(dir + "/new/credit_check.credit", ReferenceCheck());
  Write(dir + "/new/credit_check_1_1.credit", ReferenceChange());
  Write(dir + "/new/other.credit", Edit(kSmall, "policy small", "policy other"));
  const CliRun run = Creditctl({"diff", dir + "/old", dir + "/new"});
  EXPECT_EQ(run.code, kExitFailure) << run.err;
  EXPECT_THAT(run.out, HasSubstr("credit_check 1.0.0 → 1.1.0\n"));
  EXPECT_THAT(run.out, HasSubstr("credit_check_1_1.credit:27"));
  EXPECT_THAT(run.out, HasSubstr("other 1.0.0\n  + decision other: 1.0.0   other.credit:1\n"));
  EXPECT_THAT(run.out,
              HasSubstr("small 1.0.0\n  ! - decision small: 1.0.0   small.credit:1   breaks "
                        "callers: requests for it are refused: there is no such decision\n"));
  EXPECT_THAT(run.out, HasSubstr("5 changes, 1 breaks callers\n"));

  // Two versions side by side in one directory.
  const CliRun versions =
      Creditctl({"diff", dir + "/new", dir + "/new", "--decision", "credit_check", "--old-version",
                 "1.0.0", "--new-version", "1.1.0"});
  EXPECT_EQ(versions.code, kExitFailure) << versions.err;
  EXPECT_THAT(versions.out, HasSubstr("3 changes, 0 break callers\n"));
  EXPECT_THAT(versions.out, Not(HasSubstr("other")));

  const CliRun missing = Creditctl(
      {"diff", dir + "/new", dir + "/new", "--decision", "credit_check", "--old-version", "0.9.0"});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_THAT(missing.err, HasSubstr("has no version 0.9.0"));
  EXPECT_EQ(Creditctl({"diff", dir + "/old", dir + "/new", "--decision", "nothing"}).code,
            kExitUsage);
}

TEST(DiffTest, JsonHoldsEveryField) {
  const std::string dir = MakeDir("diff_json");
  Write(dir + "/old.credit", ReferenceCheck());
  Write(dir + "/new.credit", ReferenceChange());
  const CliRun run =
      Creditctl({"diff", "--format", "json", dir + "/old.credit", dir + "/new.credit"});
  EXPECT_EQ(run.code, kExitFailure) << run.err;
  rapidjson::Document document;
  document.Parse(run.out.c_str());
  ASSERT_FALSE(document.HasParseError()) << run.out;
  EXPECT_EQ(std::string(document["old"].GetString()), dir + "/old.credit");
  EXPECT_EQ(document["changes"].GetInt(), 3);
  EXPECT_EQ(document["breaking"].GetInt(), 0);
  const rapidjson::Value& decision = document["decisions"][0];
  EXPECT_EQ(std::string(decision["name"].GetString()), "credit_check");
  EXPECT_EQ(std::string(decision["old_version"].GetString()), "1.0.0");
  EXPECT_EQ(std::string(decision["new_version"].GetString()), "1.1.0");
  const rapidjson::Value& cell = decision["changes"][2];
  EXPECT_EQ(std::string(cell["kind"].GetString()), "changed");
  EXPECT_EQ(std::string(cell["what"].GetString()), "table cell");
  EXPECT_EQ(std::string(cell["path"].GetString()), "table category_terms row 2 (medium) limit");
  EXPECT_EQ(std::string(cell["before"].GetString()), "300000");
  EXPECT_EQ(std::string(cell["after"].GetString()), "250000");
  EXPECT_TRUE(cell["constant"].GetBool());
  EXPECT_EQ(std::string(cell["expression_before"].GetString()), "");
  EXPECT_EQ(std::string(cell["expression_after"].GetString()), "");
  EXPECT_FALSE(cell["breaks_callers"].GetBool());
  EXPECT_EQ(std::string(cell["impact"].GetString()), "");
  EXPECT_EQ(std::string(cell["file_before"].GetString()), "old.credit");
  EXPECT_EQ(cell["line_before"].GetInt(), 32);
  EXPECT_EQ(std::string(cell["file_after"].GetString()), "new.credit");
  EXPECT_EQ(cell["line_after"].GetInt(), 32);
}

TEST(DiffTest, PoliciesWithErrorsAreUsageErrors) {
  const std::string dir = MakeDir("diff_errors");
  Write(dir + "/old/small.credit", kSmall);
  Write(dir + "/new/small.credit", Edit(kSmall, "amount > 1_000", "amount > true"));
  const CliRun run = Creditctl({"diff", dir + "/old", dir + "/new"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("error[E"));
  EXPECT_THAT(run.err, HasSubstr("1 error in " + dir + "/new"));
  EXPECT_EQ(run.out, "");
  const CliRun file = Creditctl({"diff", dir + "/old/small.credit", dir + "/new/small.credit"});
  EXPECT_EQ(file.code, kExitUsage);
  EXPECT_THAT(file.err, HasSubstr("error[E"));
  EXPECT_EQ(Creditctl({"diff", dir + "/old", dir + "/nothing"}).code, kExitUsage);
}

// Runs git in `dir`, failing the test when it fails.
void Git(const std::string& dir, std::vector<std::string> args, const std::string& scratch) {
  std::vector<std::string> argv = {"git",
                                   "-C",
                                   dir,
                                   "-c",
                                   "user.name=Policy Tests",
                                   "-c",
                                   "user.email=policy-tests@example.com"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ProcessResult> result = RunProgram(argv, scratch);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << result->err;
}

TEST(DiffTest, AGitRevisionOfTheOtherDirectory) {
  const std::string scratch = MakeDir("diff_git_scratch");
  const std::string repo = MakeDir("diff_git_repo");
  // Temporary directories go here, to see that they are removed.
  const std::string temporary = MakeDir("diff_git_tmp");
  const char* saved = getenv("TMPDIR");
  const std::string saved_tmpdir = saved != nullptr ? saved : "";
  setenv("TMPDIR", temporary.c_str(), 1);

  Write(repo + "/policies/examples/credit_check.credit", ReferenceCheck());
  Write(repo + "/README", "not a policy\n");
  Git(repo, {"init", "-q"}, scratch);
  Git(repo, {"add", "-A"}, scratch);
  Git(repo, {"commit", "-q", "-m", "first"}, scratch);
  Write(repo + "/policies/examples/credit_check.credit", ReferenceChange());
  Git(repo, {"commit", "-q", "-a", "-m", "second"}, scratch);

  const std::string policies = repo + "/policies";
  const CliRun head = Creditctl({"diff", "git:HEAD", policies});
  EXPECT_EQ(head.code, kExitOk) << head.out << head.err;
  const CliRun run = Creditctl({"diff", "git:HEAD~1", policies});
  EXPECT_EQ(run.code, kExitFailure) << run.err;
  EXPECT_THAT(run.out, HasSubstr("credit_check 1.0.0 → 1.1.0\n"));
  EXPECT_THAT(run.out, HasSubstr("~ let tolerance: 5% → 3%   examples/credit_check.credit:27\n"));
  EXPECT_THAT(run.out, Not(HasSubstr(temporary)));
  // The other way round, and a file at a revision.
  const CliRun back = Creditctl({"diff", policies, "git:HEAD~1"});
  EXPECT_THAT(back.out, HasSubstr("credit_check 1.1.0 → 1.0.0\n"));
  const CliRun file = Creditctl({"diff", "git:HEAD~1", policies + "/examples/credit_check.credit"});
  EXPECT_EQ(file.code, kExitFailure) << file.err;
  EXPECT_THAT(file.out, HasSubstr("~ let tolerance: 5% → 3%   credit_check.credit:27\n"));

  const CliRun unknown = Creditctl({"diff", "git:no-such-rev", policies});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err, HasSubstr("unknown revision `no-such-rev`"));
  const CliRun option = Creditctl({"diff", "git:--output=x", policies});
  EXPECT_EQ(option.code, kExitUsage);
  EXPECT_THAT(option.err, HasSubstr("does not name a revision"));
  const CliRun both = Creditctl({"diff", "git:HEAD", "git:HEAD~1"});
  EXPECT_EQ(both.code, kExitUsage);
  const CliRun outside = Creditctl({"diff", "git:HEAD", scratch});
  EXPECT_EQ(outside.code, kExitUsage);
  EXPECT_THAT(outside.err, HasSubstr("is not in a git work tree"));
  Write(repo + "/later/small.credit", kSmall);
  const CliRun later = Creditctl({"diff", "git:HEAD", repo + "/later"});
  EXPECT_EQ(later.code, kExitUsage);
  EXPECT_THAT(later.err, HasSubstr("did not exist at revision `HEAD`"));

  std::error_code error;
  EXPECT_TRUE(std::filesystem::is_empty(temporary, error)) << error.message();
  if (saved != nullptr) {
    setenv("TMPDIR", saved_tmpdir.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
}

TEST(DiffTest, TheHelpNamesTheVerb) {
  const CliRun run = Creditctl({"--help"});
  EXPECT_THAT(run.out, HasSubstr("diff"));
  const CliRun verb = Creditctl({"diff", "--help"});
  EXPECT_THAT(verb.out, HasSubstr("git:REV"));
}

}  // namespace
}  // namespace creditd::cli
