// creditctl audit replay re-evaluates each logged decision under the rules
// of its record format: decisions the server logs now (format 5) through
// the server's own conversions, older ones as they were logged.
#include <sqlite3.h>
#include <unistd.h>

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
#include "tests/cli/cli_run.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;

std::string FreshPath(const std::string& name) {
  // Per process: test binaries of other checkouts may run at the same time.
  const std::string path = ::testing::TempDir() + std::to_string(getpid()) + "-" + name;
  std::error_code absent;  // a file not there is what we want
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, absent);
  return path;
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
    ASSERT_TRUE((*sink)->StorePolicy(server::SourceToStore(**policy)).ok());
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

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  sqlite3_close(db);
}

// A log from before the registry of record may hold two texts for one
// version, with decisions made under each: opened by this creditd it binds
// the version to the earliest, and every decision still replays on the text
// it was made with.
TEST(AuditReplayTest, DecisionsOnTwoTextsOfOneVersionStillReplayOnceTheLogIsMigrated) {
  const std::string text =
      "=== tenure.credit\npolicy tenure\n  version 1.0.0\n  effective 2026-01-01\n\n"
      "input years: int\noutput long: bool = years > ";
  auto first = engine::CompileCanonicalSource(text + "5\n");
  auto second = engine::CompileCanonicalSource(text + "7\n");
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string path = FreshPath("replay_two_texts.db");
  {
    auto sink = audit::SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->StorePolicy(server::SourceToStore(**first)).ok());
    audit::AuditRecord r =
        Logged(**first, "on-first", R"({"years": 6})", "6", engine::FactRules::kLenient);
    r.format = audit::kHashedFormatFormat;  // as a creditd of format 4 wrote it
    ASSERT_TRUE((*sink)->Append(r).ok());
  }
  Exec(path, absl::StrCat("UPDATE log_format SET format = ", audit::kHashedFormatFormat));
  // As an earlier creditd left it: no bindings, the second text stored too,
  // and a decision made with it after a restart.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE versions", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO policies VALUES (?, 'tenure', '1.0.0', ?)", -1, &s,
                               nullptr),
            SQLITE_OK);
  sqlite3_bind_text(s, 1, (*second)->id().sha256.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, (*second)->canonical_source().c_str(), -1, SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
  {
    auto sink = audit::SqliteAuditSink::Open(path, {});
    ASSERT_TRUE(sink.ok()) << sink.status();
    audit::AuditRecord r =
        Logged(**second, "on-second", R"({"years": 6})", "6", engine::FactRules::kLenient);
    r.format = audit::kHashedFormatFormat;
    ASSERT_TRUE((*sink)->Append(r).ok());
    absl::StatusOr<std::vector<audit::StoredPolicy>> bound = (*sink)->StoredVersions();
    ASSERT_TRUE(bound.ok());
    ASSERT_EQ(bound->size(), 1u);
    EXPECT_EQ((*bound)[0].sha256, (*first)->id().sha256);
  }
  Exec(path, absl::StrCat("UPDATE log_format SET format = ", audit::kHashedFormatFormat));
  for (const char* verb : {"verify", "replay"}) {
    std::ostringstream out, err;
    EXPECT_EQ(RunCreditctl({"audit", verb, path}, out, err), kExitOk) << out.str() << err.str();
    if (std::string(verb) == "replay") {
      EXPECT_THAT(out.str(), HasSubstr("2 decisions replayed: 2 identical, 0 differ"));
    }
  }
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
    ASSERT_TRUE((*sink)->StorePolicy(server::SourceToStore(**tenure)).ok());
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
    for (const auto& [name, versions] : load->bundle->decisions) {
      for (const engine::BundleVersion& version : versions.versions) {
        ASSERT_TRUE((*sink)->StorePolicy(server::SourceToStore(*version.policy)).ok());
      }
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
  // From format 5 the record names its outcome; reviewers filter on it.
  for (const server::Decided& d : decided) {
    credit::v1::Decision answer;
    ASSERT_TRUE(api::ParseDecision(d.record.result_json, &answer).ok());
    EXPECT_EQ(d.record.outcome, answer.outcome());
    if (d.record.outcome.empty()) continue;  // a decision of outputs only (dunning)
    CliRun listed = Creditctl({"audit", "list", path, "--outcome", d.record.outcome});
    EXPECT_EQ(listed.code, kExitOk) << listed.err;
    EXPECT_THAT(listed.out, HasSubstr(d.record.decision_id));
  }

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
