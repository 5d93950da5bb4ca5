// creditctl audit replay re-evaluates each logged decision under the fact
// rules of its record format.
#include <sqlite3.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "cli/creditctl.h"
#include "engine/bundle.h"
#include "engine/evaluator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;

std::string FreshPath(const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

audit::PolicySource SourceOf(const engine::CompiledPolicy& policy) {
  return {policy.id().sha256, policy.id().name, policy.id().version, policy.canonical_source()};
}

// A record as the server wrote it: the facts as received, the answer of a
// decision made under `rules`.
audit::AuditRecord Logged(const engine::CompiledPolicy& policy, const std::string& id,
                          const std::string& facts_json, absl::string_view years,
                          engine::FactRules rules) {
  engine::Facts facts;
  facts.Add("years", engine::FactValue::Decimal(years));
  engine::EvalOptions options;
  options.facts = rules;
  absl::StatusOr<engine::Decision> decision = engine::Evaluate(policy, facts, options);
  EXPECT_TRUE(decision.ok()) << decision.status();
  audit::AuditRecord r;
  r.decision_id = id;
  r.time = "2026-11-22T10:00:00.000Z";
  r.decision = r.policy_name = policy.id().name;
  r.policy_version = policy.id().version;
  r.policy_sha256 = policy.id().sha256;
  r.facts_json = facts_json;
  r.result_json = decision.ok() ? audit::LoggedResult(*decision) : "";
  r.format = 2;  // hashed as the server before format 3 did
  return r;
}

TEST(AuditReplayTest, EachRecordReplaysUnderTheFactRulesOfItsFormat) {
  static_assert(audit::kStrictFactsFormat == 3);
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> policy =
      engine::CompileCanonicalSource(
          "=== tenure.credit\npolicy tenure\n  version 1.0.0\n  effective 2026-01-01\n\n"
          "input years: int\noutput long: bool = years > 5\n");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const std::string path = FreshPath("replay_formats.db");
  {
    auto sink = audit::SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->StorePolicy(SourceOf(**policy)).ok());
    // Before the strict rules, decimal_value "6.00" for an int input was 6.
    ASSERT_TRUE((*sink)
                    ->Append(Logged(**policy, "old", R"({"years": "6.00"})", "6.00",
                                    engine::FactRules::kLenient))
                    .ok());
    ASSERT_TRUE((*sink)
                    ->Append(Logged(**policy, "new", R"({"years": "6.00"})", "6.00",
                                    engine::FactRules::kLenient))
                    .ok());
  }
  {
    // A log written before format 3: its records say format 2. (Once the
    // sink, which holds the log, has closed it.)
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE log_format SET format = 2", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  std::ostringstream out, err;
  EXPECT_EQ(RunCreditctl({"audit", "replay", path}, out, err), kExitOk) << out.str() << err.str();
  EXPECT_THAT(out.str(), HasSubstr("2 decisions replayed: 2 identical, 0 differ"));

  // From record 2 on, the log says format 3: that record was decided under the
  // strict rules, which never take "6.00" for an int.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         absl::StrCat("INSERT INTO log_format (first_sequence, format) VALUES (2, ",
                                      audit::kStrictFactsFormat, ")")
                             .c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  std::ostringstream out3, err3;
  EXPECT_EQ(RunCreditctl({"audit", "replay", path}, out3, err3), kExitFailure);
  EXPECT_THAT(out3.str(), HasSubstr("decision new does not replay: 1 problem with the facts: "
                                    "`years`: expected int (a whole number)"));
  EXPECT_THAT(out3.str(), HasSubstr("2 decisions replayed: 1 identical, 0 differ, 1 could not"));
  EXPECT_THAT(out3.str(), ::testing::Not(HasSubstr("decision old")));
}

}  // namespace
}  // namespace creditd::cli
