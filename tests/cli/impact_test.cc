// creditctl impact: a candidate against the decisions a log holds, logged
// as the server logs them.
#include "cli/impact.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "cli/creditctl.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/decide.h"
#include "tests/cli/cli_run.h"
#include "tests/cli/decision_log.h"
#include "tests/engine/test_files.h"

namespace creditd::cli {
namespace {

using engine::testing::MakeDir;
using engine::testing::Write;
using ::testing::HasSubstr;

std::string Policy(const std::string& version, const std::string& threshold,
                   const std::string& share, const std::string& extra_input = "") {
  return absl::StrCat(
      "policy limit\n  version ", version,
      "\n  effective 2026-01-01\n  edition 2\n\n"
      "enum Outcome { approve, refer }\nenum Segment { new, existing }\nenum Level { low, high }\n"
      "reason BIG \"over {threshold}\"\n"
      "input segment: Segment\ninput amount: money >= 0\n",
      extra_input, "let threshold: money = ", threshold,
      "\noutcome Outcome = approve\n"
      "output limit: money = round(amount * ",
      share,
      ", 2)\n"
      "output level: Level = if amount > threshold then high else low\n"
      "rule big\n  when amount > threshold\n  then refer BIG\n");
}

// A log of decisions made by the server's own path on version 1.0.0.
std::string LogOf(const std::string& dir, const std::vector<std::pair<std::string, int>>& cases) {
  std::vector<credit::v1::EvaluateRequest> requests;
  for (const auto& [segment, amount] : cases) {
    credit::v1::EvaluateRequest& request = requests.emplace_back();
    request.set_decision("limit");
    (*request.mutable_facts())["segment"].set_enum_value(segment);
    (*request.mutable_facts())["amount"].set_int_value(amount);
  }
  return testing::DecisionLog(dir, requests, absl::StrCat("impact-", cases.size()));
}

TEST(ImpactTest, ComparesTheCandidateWithWhatWasDecided) {
  const std::string logged = MakeDir("impact_logged");
  Write(logged + "/limit.credit", Policy("1.0.0", "1000", "50%"));
  const std::string log =
      LogOf(logged, {{"new", 100}, {"new", 600}, {"existing", 1200}, {"existing", 2000}});
  const std::string candidate = MakeDir("impact_candidate");
  Write(candidate + "/limit.credit", Policy("1.1.0", "500", "40%"));

  CliRun run = Creditctl(
      {"impact", "--audit", log, "--candidate", candidate, "--by", "segment", "--sum", "limit"});
  ASSERT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("limit: candidate 1.1.0"));
  EXPECT_THAT(run.out, HasSubstr("4 logged decisions: 4 compared, 0 no longer fit"));
  EXPECT_THAT(run.out, HasSubstr("outcome changed for 1 (25.0% of those compared)"));
  EXPECT_THAT(run.out, HasSubstr("approve → refer"));
  EXPECT_THAT(run.out, HasSubstr("low → high"));
  // 50 + 300 + 600 + 1000 before, 40% of the same after.
  EXPECT_THAT(run.out, HasSubstr("limit: total 1950 → 1560 (-390)"));
  EXPECT_THAT(run.out, HasSubstr("new: 2 compared, outcome changed for 1 (50.0%)"));
  EXPECT_THAT(run.out, HasSubstr("existing: 2 compared, outcome changed for 0 (0.0%)"));
  // Every message quotes the threshold: the same code, a new text, is no
  // reason gained or lost; the 600 decision gains BIG.
  EXPECT_THAT(run.out, HasSubstr("reasons gained:\n    BIG  1"));

  CliRun json = Creditctl(
      {"impact", "--audit", log, "--candidate", candidate, "--format", "json", "--sum", "limit"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json.out;
  const rapidjson::Value& d = doc["decisions"]["limit"];
  EXPECT_EQ(d["compared"].GetInt64(), 4);
  EXPECT_EQ(d["outcome_changed"].GetInt64(), 1);
  EXPECT_STREQ(d["sums"]["limit"]["before"].GetString(), "1950");
  EXPECT_STREQ(d["sums"]["limit"]["after"].GetString(), "1560");
  bool found = false;
  for (const rapidjson::Value& t : d["outcome"].GetArray()) {
    if (std::string(t["before"].GetString()) == "approve" &&
        std::string(t["after"].GetString()) == "refer") {
      found = true;
      EXPECT_EQ(t["count"].GetInt64(), 1);
      EXPECT_EQ(t["examples"].Size(), 1u);
    }
  }
  EXPECT_TRUE(found) << json.out;
}

TEST(ImpactTest, FactsThatNoLongerFitAreCountedByWhatIsWrong) {
  const std::string logged = MakeDir("impact_fit_logged");
  Write(logged + "/limit.credit", Policy("1.0.0", "1000", "50%"));
  const std::string log = LogOf(logged, {{"new", 100}, {"existing", 1200}, {"new", 5000}});
  const std::string candidate = MakeDir("impact_fit_candidate");
  // A new required input, and amounts above 2000 refused.
  std::string text = Policy("2.0.0", "1000", "50%", "input score: int\n");
  text = absl::StrCat(text.substr(0, text.find("input amount: money >= 0")),
                      "input amount: money in [0, 2000]",
                      text.substr(text.find("input amount: money >= 0") + 24),
                      "rule low_score\n  when score < 0\n  then refer BIG\n");
  Write(candidate + "/limit.credit", text);
  CliRun run = Creditctl({"impact", "--audit", log, "--candidate", candidate});
  ASSERT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("3 logged decisions: 0 compared, 3 no longer fit"));
  EXPECT_THAT(run.out, HasSubstr("score: missing: a required input now  3"));
  EXPECT_THAT(run.out, HasSubstr("amount: outside the range now declared  1"));
}

TEST(ImpactTest, FlagsThatFitNoDecisionAreUsageErrors) {
  const std::string logged = MakeDir("impact_flags");
  Write(logged + "/limit.credit", Policy("1.0.0", "1000", "50%"));
  const std::string log = LogOf(logged, {{"new", 100}});
  for (const std::vector<std::string>& flag :
       {std::vector<std::string>{"--sum", "level"}, std::vector<std::string>{"--by", "amount"},
        std::vector<std::string>{"--since", "last tuesday"}}) {
    std::vector<std::string> args = {"impact", "--audit", log, "--candidate", logged};
    args.insert(args.end(), flag.begin(), flag.end());
    CliRun run = Creditctl(args);
    EXPECT_EQ(run.code, kExitUsage) << flag[0] << run.out;
    EXPECT_THAT(run.err, HasSubstr(flag[0].substr(2))) << run.err;
  }
  // A candidate with errors: its diagnostics, and exit 1.
  const std::string broken = MakeDir("impact_broken");
  Write(broken + "/limit.credit", "policy limit\n  version 1.0.0\n");
  CliRun run = Creditctl({"impact", "--audit", log, "--candidate", broken});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.err, HasSubstr("E0101"));
}

// Workers read the log in parts and the parts are merged in log order: the
// report, examples included, is the same whatever their number and size.
TEST(ImpactTest, TheReportIsTheSameOnAnyNumberOfWorkers) {
  const std::string logged = MakeDir("impact_workers_logged");
  Write(logged + "/limit.credit", Policy("1.0.0", "1000", "50%"));
  std::vector<std::pair<std::string, int>> cases;
  for (int i = 0; i < 120; ++i) {
    cases.emplace_back(i % 3 == 0 ? "new" : "existing", (i * 37) % 2000);
  }
  const std::string log = LogOf(logged, cases);
  const std::string candidate = MakeDir("impact_workers_candidate");
  Write(candidate + "/limit.credit", Policy("1.1.0", "500", "40%"));
  std::string text, json;
  for (const auto& [workers, part] : std::vector<std::pair<int, int64_t>>{
           {1, 1 << 20}, {1, 1}, {2, 7}, {4, 3}, {3, 50}, {0, 16384}}) {
    ImpactOptions options;
    options.audit = log;
    options.candidate = candidate;
    options.by = {"segment"};
    options.sums = {"limit"};
    options.examples = 2;
    options.workers = workers;
    options.part_sequences = part;
    std::ostringstream out, err;
    Context context{out, err};
    absl::StatusOr<ImpactReport> report = ComputeImpact(options, context);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->decisions.at("limit").logged, 120);
    if (text.empty()) {
      text = ImpactText(*report);
      json = ImpactJson(*report);
      EXPECT_THAT(text, HasSubstr("e.g."));
      continue;
    }
    EXPECT_EQ(ImpactText(*report), text) << workers << " workers, parts of " << part;
    EXPECT_EQ(ImpactJson(*report), json) << workers << " workers, parts of " << part;
  }
}

// Sequences far apart (a log edited by hand) make no more parts than a few:
// the report comes, and whole.
TEST(ImpactTest, SequencesFarApartMakeFewParts) {
  const std::string logged = MakeDir("impact_gap_logged");
  Write(logged + "/limit.credit", Policy("1.0.0", "1000", "50%"));
  const std::string log =
      LogOf(logged, {{"new", 1}, {"new", 2}, {"new", 3}, {"new", 4}, {"new", 5}});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(log.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE decisions SET sequence = 4000000000000000000 "
                         "WHERE sequence = (SELECT max(sequence) FROM decisions)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ImpactOptions options;
  options.audit = log;
  options.candidate = logged;
  options.workers = 2;
  options.part_sequences = 1;
  std::ostringstream out, err;
  Context context{out, err};
  absl::StatusOr<ImpactReport> report = ComputeImpact(options, context);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->decisions.at("limit").logged, 5);
  EXPECT_EQ(report->decisions.at("limit").unchanged, 5);
}

// A log that cannot be read to its end gives no report: an error naming
// where reading stopped.
TEST(ImpactTest, ALogThatCannotBeReadGivesNoReport) {
  const std::string logged = MakeDir("impact_corrupt_logged");
  Write(logged + "/limit.credit", Policy("1.0.0", "1000", "50%"));
  std::vector<std::pair<std::string, int>> cases;
  for (int i = 0; i < 1500; ++i) cases.emplace_back("new", i);
  const std::string log = LogOf(logged, cases);
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(log, error);
  ASSERT_FALSE(error) << error.message();
  {
    std::fstream file(log, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    file << std::string(4096, '\xa5');
  }
  CliRun run = Creditctl({"impact", "--audit", log, "--candidate", logged});
  EXPECT_EQ(run.code, kExitUsage) << run.out;
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr("cannot be read past record"));
}

}  // namespace
}  // namespace creditd::cli
