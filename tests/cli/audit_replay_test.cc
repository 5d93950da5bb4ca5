// creditctl audit replay re-evaluates each logged decision under the rules
// of its record format: decisions the server logs now (format 5) through
// the server's own conversions, older ones as they were logged.
#include <sqlite3.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/decision.h"
#include "audit/sqlite_audit.h"
#include "bench/sample_request.h"
#include "cli/audit_render.h"
#include "cli/creditctl.h"
#include "cli/replay.h"
#include "engine/bundle.h"
#include "engine/evaluator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/decide.h"

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
  r.result_json = decision.ok() ? LegacyLoggedResult(*decision, 2) : "";
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

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  sqlite3_close(db);
}

// Sets the `column` of record `sequence` to `bytes` (as a BLOB), as someone
// with write access to the file could.
void Overwrite(const std::string& path, int64_t sequence, const char* column,
               const std::string& bytes) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(
          db,
          absl::StrCat("UPDATE decisions SET ", column, " = ? WHERE sequence = ", sequence).c_str(),
          -1, &s, nullptr),
      SQLITE_OK);
  sqlite3_bind_blob64(s, 1, bytes.data(), bytes.size(), SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

// The reference decisions, requested as callers do: one with a trace, one
// with every field of the request set.
std::vector<credit::v1::EvaluateRequest> Requests() {
  std::vector<credit::v1::EvaluateRequest> requests;
  requests.push_back(bench::CreditApplicationRequest());
  credit::v1::EvaluateRequest explained = bench::CreditApplicationRequest();
  explained.set_explain(true);
  (*explained.mutable_facts())["requested_limit"].set_decimal_value("1500000.50");
  requests.push_back(explained);
  credit::v1::EvaluateRequest dunning;
  dunning.set_decision("dunning");
  dunning.set_customer_id("C-\u00e9t\u00e9");
  dunning.set_request_id("r-7 \"quoted\" \\ path");
  auto& f = *dunning.mutable_facts();
  f["days_past_due"].set_int_value(47);
  f["overdue_amount"].set_decimal_value("186420.50");
  f["has_reasonable_explanation"].set_bool_value(false);
  f["dunning_block"].set_bool_value(false);
  f["segment"].set_enum_value("existing");
  requests.push_back(dunning);
  return requests;
}

// A log begun in format 2, continued by today's server: its decisions made
// by server::Decide and logged as the server logs them.
TEST(AuditReplayTest, DecisionsTheServerLogsReplayThroughItsOwnConversions) {
  engine::Registry registry;
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle("policies", reader);
  ASSERT_TRUE(load.ok() && load->bundle != nullptr) << load.status();
  ASSERT_TRUE(registry.Install(load->bundle).ok());
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> tenure =
      engine::CompileCanonicalSource(
          "=== tenure.credit\npolicy tenure\n  version 1.0.0\n  effective 2026-01-01\n\n"
          "input years: int\noutput long: bool = years > 5\n");
  ASSERT_TRUE(tenure.ok()) << tenure.status();

  const std::string path = FreshPath("replay_format5.db");
  {
    auto sink = audit::SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->StorePolicy(SourceOf(**tenure)).ok());
    ASSERT_TRUE((*sink)
                    ->Append(Logged(**tenure, "old", R"({"years": "6.00"})", "6.00",
                                    engine::FactRules::kLenient))
                    .ok());
  }
  Exec(path, "UPDATE log_format SET format = 2");
  std::vector<server::Decided> decided;
  {
    auto sink = audit::SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (const auto& [name, policy] : load->bundle->policies) {
      ASSERT_TRUE((*sink)->StorePolicy(SourceOf(*policy)).ok());
    }
    for (const credit::v1::EvaluateRequest& request : Requests()) {
      credit::v1::Decision answer;
      server::Decided d = server::Decide(registry, request, &answer);
      ASSERT_TRUE(d.status.ok()) << d.status.error_message();
      ASSERT_TRUE((*sink)->Append(d.record).ok());
      // The log holds the answer as the caller got it.
      credit::v1::Decision logged;
      ASSERT_TRUE(api::ParseDecision(d.record.result_json, &logged).ok());
      EXPECT_TRUE(api::SameDecision(logged, answer));
      decided.push_back(std::move(d));
    }
  }
  ASSERT_EQ(decided.size(), 3u);
  credit::v1::Decision explained;
  ASSERT_TRUE(api::ParseDecision(decided[1].record.result_json, &explained).ok());
  EXPECT_GT(explained.trace_size(), 0);

  CliRun verify = Creditctl({"audit", "verify", path});
  EXPECT_EQ(verify.code, kExitOk) << verify.out << verify.err;
  CliRun replay = Creditctl({"audit", "replay", path});
  EXPECT_EQ(replay.code, kExitOk) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr("4 decisions replayed: 4 identical, 0 differ, 0 could not"));

  // Shown readably: the canonical facts, the answer as JSON.
  const audit::AuditRecord& dunning = decided[2].record;
  CliRun show = Creditctl({"audit", "show", path, dunning.decision_id});
  EXPECT_EQ(show.code, kExitOk) << show.err;
  EXPECT_THAT(show.out, HasSubstr("facts:        {\"days_past_due\":{\"int\":\"47\"},"));
  EXPECT_THAT(show.out, HasSubstr(R"("level":{"enum_value":"yellow"})"));
  EXPECT_THAT(show.out, HasSubstr(absl::StrCat(R"("decision_id":")", dunning.decision_id)));
  absl::StatusOr<std::string> rendered = RenderResult(dunning);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_THAT(show.out, HasSubstr("result:       " + *rendered + "\n"));
  CliRun old = Creditctl({"audit", "show", path, "old"});
  EXPECT_THAT(old.out, HasSubstr(R"(result:       {"decision":"tenure")"));

  // A logged answer changed: replay names what differs. Record 1 is the
  // format 2 one; the server's decisions follow.
  credit::v1::Decision changed;
  ASSERT_TRUE(api::ParseDecision(decided[0].record.result_json, &changed).ok());
  changed.set_outcome("decline");
  Overwrite(path, 2, "result", api::DeterministicBytes(changed));
  // Facts that are not their canonical text.
  Overwrite(path, 3, "facts", R"({"segment": {"symbol": "existing"}})");
  replay = Creditctl({"audit", "replay", path});
  EXPECT_EQ(replay.code, kExitFailure);
  EXPECT_THAT(replay.out, HasSubstr(absl::StrCat("decision ", decided[0].record.decision_id,
                                                 " differs on replay\n  modified: outcome: ")));
  EXPECT_THAT(replay.out,
              HasSubstr(absl::StrCat("decision ", decided[1].record.decision_id,
                                     " does not replay: the facts are not in canonical form")));
  EXPECT_THAT(replay.out, HasSubstr("4 decisions replayed: 2 identical, 1 differ, 1 could not"));
}

}  // namespace
}  // namespace creditd::cli
