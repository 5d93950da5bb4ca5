// The decision log in PostgreSQL, against a real server: run through
// tests/pg/pg_cluster.py, which starts a throwaway PostgreSQL and names its
// roles in CREDITD_TEST_PG_* variables. Each test gets a database of its
// own, migrated as the owner role and written as the serving role.

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/checkpoint.h"
#include "audit/log_location.h"
#include "audit/log_sink.h"
#include "audit/pg_store.h"
#include "audit/sqlite_store.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::audit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Rows = std::vector<std::vector<std::string>>;

// ---------------------------------------------------------------------------
// The cluster, and SQL run on it directly.

struct Cluster {
  std::string owner, serving, super, ctl;
  std::string passfile;  // ours: the cluster's, for any database
};

// `conninfo` with `changes` made to its parameters (libpq's parser, so
// values with spaces or quotes stay whole).
std::string WithParams(const std::string& conninfo,
                       const std::map<std::string, std::string>& changes) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    ADD_FAILURE() << "libpq cannot parse " << conninfo << ": " << (error ? error : "");
    PQfreemem(error);
    return conninfo;
  }
  std::map<std::string, std::string> params;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) params[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  for (const auto& [key, value] : changes) params[key] = value;
  std::vector<std::string> parts;
  for (const auto& [key, value] : params) {
    std::string quoted;
    for (char c : value) {
      if (c == '\\' || c == '\'') quoted += '\\';
      quoted += c;
    }
    parts.push_back(absl::StrCat(key, "='", quoted, "'"));
  }
  return absl::StrJoin(parts, " ");
}

std::string ParamOf(const std::string& conninfo, const std::string& key) {
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr);
  std::string value;
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (key == o->keyword && o->val != nullptr) value = o->val;
  }
  PQconninfoFree(options);
  return value;
}

// The cluster's password file names the database `creditd`; the tests'
// databases are others: a copy with `*` for the database.
absl::StatusOr<std::string> PassfileForAnyDatabase(const std::string& conninfo) {
  const std::string original = ParamOf(conninfo, "passfile");
  if (original.empty()) return absl::FailedPreconditionError("no passfile= in " + conninfo);
  std::ifstream in(original);
  if (!in) return absl::FailedPreconditionError("cannot read " + original);
  std::ostringstream out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(':', 4));
    if (fields.size() != 5) continue;
    fields[2] = "*";
    out << absl::StrJoin(fields, ":") << "\n";
  }
  // Next to the original, in the cluster's directory: removed with it.
  const std::string path = absl::StrCat(original, "-any-database-", getpid());
  {
    std::ofstream file(path, std::ios::trunc);
    file << out.str();
    if (!file.flush()) return absl::UnavailableError("cannot write " + path);
  }
  if (chmod(path.c_str(), 0600) != 0) return absl::UnavailableError("cannot chmod " + path);
  return path;
}

const Cluster* TheCluster(std::string* why) {
  static const auto* cluster = []() -> const Cluster* {
    const char* owner = std::getenv("CREDITD_TEST_PG_OWNER");
    const char* serving = std::getenv("CREDITD_TEST_PG_SERVING");
    const char* super = std::getenv("CREDITD_TEST_PG_SUPER");
    const char* ctl = std::getenv("CREDITD_TEST_PG_CTL");
    if (owner == nullptr || serving == nullptr || super == nullptr || ctl == nullptr) {
      return nullptr;
    }
    absl::StatusOr<std::string> passfile = PassfileForAnyDatabase(owner);
    if (!passfile.ok()) {
      ADD_FAILURE() << passfile.status();
      return nullptr;
    }
    return new Cluster{owner, serving, super, ctl, *passfile};
  }();
  if (cluster == nullptr) {
    *why =
        "these tests need a PostgreSQL server: run them through tests/pg/pg_cluster.py "
        "(`ctest -R audit_pg`, or `tests/pg/pg_cluster.py -- audit_pg_test`), which sets "
        "CREDITD_TEST_PG_OWNER, CREDITD_TEST_PG_SERVING, CREDITD_TEST_PG_SUPER and "
        "CREDITD_TEST_PG_CTL";
  }
  return cluster;
}

// Runs `sql` (one or more statements) on a connection of its own; the rows
// of the last statement, as text. An error names its SQLSTATE.
absl::StatusOr<Rows> Sql(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot connect: ", PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    return absl::UnknownError(
        absl::StrCat("SQLSTATE ", state ? state : "?", ": ", PQerrorMessage(conn.get())));
  }
  Rows rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r.get()); ++j) row.push_back(PQgetvalue(r.get(), i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

// The one value of a query that returns one.
std::string Value(const std::string& conninfo, const std::string& sql) {
  absl::StatusOr<Rows> rows = Sql(conninfo, sql);
  if (!rows.ok()) {
    ADD_FAILURE() << sql << ": " << rows.status();
    return "";
  }
  if (rows->size() != 1 || (*rows)[0].size() != 1) {
    ADD_FAILURE() << sql << ": " << rows->size() << " rows";
    return "";
  }
  return (*rows)[0][0];
}

// ---------------------------------------------------------------------------
// Records and policies.

// Times of records: each record's its own millisecond, from when the tests
// started (this month's partition, but for a test run in a month's last
// moments).
std::string NextTime() {
  static const absl::Time start = absl::Now();
  static std::atomic<int64_t> next{0};
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", start + absl::Milliseconds(next++),
                          absl::UTCTimeZone());
}

constexpr char kStoredText[] = "the text of credit_application 1.0.0";

AuditRecord Record(const std::string& id, std::string time = "") {
  AuditRecord r;
  r.decision_id = id;
  r.time = time.empty() ? NextTime() : std::move(time);
  r.customer_id = "c-1";
  r.request_id = absl::StrCat("req-", id);
  r.decision = "credit_application";
  r.policy_name = "credit_application";
  r.policy_version = "1.0.0";
  r.policy_sha256 = crypto::Sha256Hex(kStoredText);
  r.facts_json = absl::StrCat("income = ", id.size());
  r.result_json = std::string("\x08\x01\x12\x00", 4);
  r.kind = kDecisionRecord;
  r.caller = "spiffe://bank/teller";
  r.outcome = "approve";
  return r;
}

PolicySource Policy(const std::string& name, const std::string& version, std::string source) {
  PolicySource p;
  p.name = name;
  p.version = version;
  p.source = std::move(source);
  p.sha256 = crypto::Sha256Hex(p.source);
  p.canonical_form = 2;
  return p;
}

absl::StatusOr<std::unique_ptr<LogSink>> OpenSink(const std::string& location,
                                                  const std::string& chain,
                                                  Durability durability = Durability::kDurable) {
  PgStoreOptions store_options;
  store_options.durability = durability;
  store_options.chain_id = chain;
  absl::StatusOr<std::unique_ptr<PgStore>> store = PgStore::Open(location, store_options);
  if (!store.ok()) return store.status();
  QueueOptions queue_options;
  queue_options.durability = durability;
  return LogSink::Open(*std::move(store), queue_options);
}

std::vector<std::string> Ids(const std::vector<AuditRecord>& records) {
  std::vector<std::string> ids;
  for (const AuditRecord& r : records) ids.push_back(r.decision_id);
  return ids;
}

// Every record that matches, in the order read.
std::vector<AuditRecord> Matching(const std::string& location, const RecordFilter& filter) {
  std::vector<AuditRecord> records;
  absl::Status status = ForEachMatchingRecord(location, filter, [&](AuditRecord& r) {
    records.push_back(r);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return records;
}

std::string ThisMonthsPartition() {
  const absl::CivilMonth m = absl::ToCivilMonth(absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("records_%04d_%02d", m.year(), m.month());
}

// ---------------------------------------------------------------------------
// A database per test.

class PgDatabaseTest : public ::testing::Test {
 protected:
  explicit PgDatabaseTest(bool migrate = true) : migrate_(migrate) {}

  void SetUp() override {
    std::string why;
    cluster_ = TheCluster(&why);
    if (cluster_ == nullptr) GTEST_FAIL() << why;
    static int count = 0;
    db_ = absl::StrCat("test_", getpid(), "_", ++count);
    ASSERT_TRUE(
        Sql(cluster_->super, absl::StrCat("CREATE DATABASE ", db_, " OWNER creditd_owner")).ok());
    created_ = true;
    ASSERT_TRUE(Sql(cluster_->super,
                    absl::StrCat("REVOKE ALL ON DATABASE ", db_,
                                 " FROM PUBLIC; GRANT CONNECT ON DATABASE ", db_, " TO creditd"))
                    .ok());
    owner_ = WithParams(cluster_->owner, {{"dbname", db_}, {"passfile", cluster_->passfile}});
    serving_ = WithParams(cluster_->serving, {{"dbname", db_}, {"passfile", cluster_->passfile}});
    super_ = WithParams(cluster_->super, {{"dbname", db_}});
    if (migrate_) {
      MigrateOptions options;
      options.grant_role = "creditd";
      absl::StatusOr<MigrateResult> migrated = MigratePostgres(owner_, options);
      ASSERT_TRUE(migrated.ok()) << migrated.status();
      log_id_ = migrated->log_id;
    }
  }

  void TearDown() override {
    if (cluster_ == nullptr || !created_) return;
    if (stopped_) Ctl("start");
    absl::StatusOr<Rows> dropped =
        Sql(cluster_->super, absl::StrCat("DROP DATABASE IF EXISTS ", db_, " WITH (FORCE)"));
    EXPECT_TRUE(dropped.ok()) << dropped.status();
  }

  // Stops or starts the server.
  void Ctl(const std::string& what) {
    const std::string command = absl::StrCat(cluster_->ctl, " ", what);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    stopped_ = what == "stop";
  }

  // Ends the sessions of the log's writers (application_name `creditd`) and
  // waits until they are gone.
  void TerminateWriters() {
    const std::string where =
        absl::StrCat("datname = '", db_, "' AND application_name = 'creditd'");
    EXPECT_EQ(Value(super_, absl::StrCat("SELECT count(pg_terminate_backend(pid)) > 0 FROM "
                                         "pg_stat_activity WHERE ",
                                         where)),
              "t");
    for (int i = 0; i < 100; ++i) {
      if (Value(super_, absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE ", where)) ==
          "0") {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "the writers' sessions did not end";
  }

  // Appends `n` records named PREFIX-i; their ids.
  std::vector<std::string> AppendN(LogSink& sink, const std::string& prefix, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      const std::string id = absl::StrCat(prefix, "-", i);
      absl::Status status = sink.Append(Record(id));
      EXPECT_TRUE(status.ok()) << id << ": " << status;
      if (status.ok()) ids.push_back(id);
    }
    return ids;
  }

  void ExpectVerifies(const std::string& chain, int64_t records) {
    absl::StatusOr<VerifyResult> result = VerifyChain(serving_, chain);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->ok) << "chain " << chain << ": record " << result->first_broken << ": "
                            << result->problem;
    EXPECT_EQ(result->records, records) << "chain " << chain;
    EXPECT_EQ(result->head.sequence, records) << "chain " << chain;
    EXPECT_EQ(result->archived, 0);
    EXPECT_TRUE(result->registry_problems.empty())
        << absl::StrJoin(result->registry_problems, "\n");
  }

  const Cluster* cluster_ = nullptr;
  const bool migrate_;
  bool created_ = false;
  bool stopped_ = false;
  std::string db_, owner_, serving_, super_, log_id_;
};

class PgLogTest : public PgDatabaseTest {};

class PgMigrateTest : public PgDatabaseTest {
 protected:
  PgMigrateTest() : PgDatabaseTest(/*migrate=*/false) {}
};

std::vector<std::string> MonthPartitions(absl::Time now, int months_ahead) {
  std::vector<std::string> names;
  const absl::CivilMonth month = absl::ToCivilMonth(now, absl::UTCTimeZone());
  for (int i = 0; i <= months_ahead; ++i) {
    const absl::CivilMonth m = month + i;
    names.push_back(absl::StrFormat("records_%04d_%02d", m.year(), m.month()));
  }
  return names;
}

// ---------------------------------------------------------------------------
// Chain ids and locations.

TEST(PgChainIdTest, AcceptsOnlyShortPlainIds) {
  EXPECT_TRUE(CheckChainId("replica-1").ok());
  EXPECT_TRUE(CheckChainId("a.b_c-D9").ok());
  EXPECT_TRUE(CheckChainId(std::string(64, 'x')).ok());
  for (const std::string& bad :
       {std::string(), std::string(65, 'x'), std::string("a/b"), std::string("a b"),
        std::string("caf\xc3\xa9"), std::string("a\0b", 3), std::string("../x")}) {
    EXPECT_EQ(CheckChainId(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// ---------------------------------------------------------------------------
// 1. The schema.

TEST_F(PgMigrateTest, CreatesTheSchemaOnceAndAddsMonthPartitions) {
  // Nothing there yet: the writer and the readers say to migrate.
  PgStoreOptions store_options;
  store_options.chain_id = "a";
  absl::StatusOr<std::unique_ptr<PgStore>> early = PgStore::Open(serving_, store_options);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition) << early.status();
  EXPECT_THAT(early.status().message(), HasSubstr("migrate"));
  EXPECT_EQ(VerifyChain(serving_, "a").status().code(), absl::StatusCode::kFailedPrecondition);

  // The serving role may not make the schema.
  EXPECT_EQ(MigratePostgres(serving_, MigrateOptions()).status().code(),
            absl::StatusCode::kPermissionDenied);

  MigrateOptions options;
  options.grant_role = "creditd";
  absl::StatusOr<MigrateResult> first = MigratePostgres(owner_, options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->from_version, 0);
  EXPECT_EQ(first->to_version, kPostgresSchemaVersion);
  EXPECT_EQ(first->log_id.size(), 32u);
  EXPECT_EQ(first->partitions_added, MonthPartitions(absl::Now(), 3));
  EXPECT_EQ(Value(owner_, "SELECT value FROM creditd.log_info WHERE key = 'schema_version'"), "1");
  for (const std::string& partition : first->partitions_added) {
    EXPECT_EQ(
        Value(owner_, absl::StrCat("SELECT to_regclass('creditd.", partition, "') IS NOT NULL")),
        "t")
        << partition;
  }

  const std::string objects =
      "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'creditd') || '/' || (SELECT count(*) FROM pg_trigger t JOIN pg_class c "
      "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
      "'creditd' AND NOT t.tgisinternal) || '/' || (SELECT count(*) FROM creditd.log_info)";
  const std::string before = Value(owner_, objects);

  // Again: nothing added, the same log.
  absl::StatusOr<MigrateResult> second = MigratePostgres(owner_, options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->from_version, 1);
  EXPECT_EQ(second->to_version, 1);
  EXPECT_TRUE(second->partitions_added.empty());
  EXPECT_EQ(second->log_id, first->log_id);
  EXPECT_EQ(Value(owner_, objects), before);

  // Further ahead: only the months not there yet.
  options.months_ahead = 5;
  absl::StatusOr<MigrateResult> ahead = MigratePostgres(owner_, options);
  ASSERT_TRUE(ahead.ok()) << ahead.status();
  const std::vector<std::string> six = MonthPartitions(absl::Now(), 5);
  EXPECT_EQ(ahead->partitions_added, std::vector<std::string>(six.begin() + 4, six.end()));

  // Another month's point of view.
  options.months_ahead = 1;
  options.now = absl::FromCivil(absl::CivilSecond(2031, 12, 15, 0, 0, 0), absl::UTCTimeZone());
  absl::StatusOr<MigrateResult> later = MigratePostgres(owner_, options);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_THAT(later->partitions_added, ElementsAre("records_2031_12", "records_2032_01"));

  options.months_ahead = -1;
  EXPECT_EQ(MigratePostgres(owner_, options).status().code(), absl::StatusCode::kInvalidArgument);

  // And the log opens.
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_EQ((*sink)->identity().log_id, first->log_id);
  EXPECT_EQ((*sink)->identity().chain_id, "a");
}

TEST_F(PgLogTest, ANewerSchemaIsRefused) {
  ASSERT_TRUE(Sql(super_,
                  "SET session_replication_role = replica; UPDATE creditd.log_info SET value = "
                  "'2' WHERE key = 'schema_version'")
                  .ok());
  absl::StatusOr<MigrateResult> migrated = MigratePostgres(owner_, MigrateOptions());
  EXPECT_EQ(migrated.status().code(), absl::StatusCode::kFailedPrecondition) << migrated.status();
  EXPECT_THAT(migrated.status().message(), HasSubstr("version 2"));
  PgStoreOptions store_options;
  store_options.chain_id = "a";
  EXPECT_EQ(PgStore::Open(serving_, store_options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(VerifyChain(serving_, "a").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ListChains(serving_).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PgMigrateTest, APasswordInTheLocationIsRefusedAndNeverShown) {
  const std::string secret = "owner-secret";
  const std::string port = ParamOf(owner_, "port");
  for (const std::string& location :
       {absl::StrCat(owner_, " password=", secret),
        absl::StrCat("postgresql://creditd_owner:", secret, "@127.0.0.1:", port, "/", db_)}) {
    absl::StatusOr<MigrateResult> migrated = MigratePostgres(location, MigrateOptions());
    EXPECT_EQ(migrated.status().code(), absl::StatusCode::kInvalidArgument) << migrated.status();
    EXPECT_THAT(std::string(migrated.status().message()), Not(HasSubstr(secret)));
    PgStoreOptions store_options;
    store_options.chain_id = "a";
    absl::Status opened = PgStore::Open(location, store_options).status();
    EXPECT_EQ(opened.code(), absl::StatusCode::kInvalidArgument) << opened;
    EXPECT_THAT(std::string(opened.message()), Not(HasSubstr(secret)));
    absl::Status read = VerifyChain(location, "a").status();
    EXPECT_EQ(read.code(), absl::StatusCode::kInvalidArgument) << read;
    EXPECT_THAT(std::string(read.message()), Not(HasSubstr(secret)));
    EXPECT_THAT(LocationForDisplay(location), Not(HasSubstr(secret)));
  }
  // Nothing was made.
  EXPECT_EQ(Value(super_, "SELECT to_regnamespace('creditd') IS NULL"), "t");
}

// A month whose records went to the default partition (migrate not run in
// time) still gets its partition when migrate runs, or at least migrate
// still runs: it is how grants and later schema versions arrive.
TEST_F(PgMigrateTest, MigrateStillRunsAfterRecordsWentToTheDefaultPartition) {
  MigrateOptions options;
  options.grant_role = "creditd";
  options.months_ahead = 0;
  options.now = absl::Now() - absl::Hours(24 * 70);  // two or three months ago
  ASSERT_TRUE(MigratePostgres(owner_, options).ok());
  {
    absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Append(Record("late-1")).ok());
  }
  EXPECT_EQ(Value(owner_, "SELECT tableoid::regclass::text FROM creditd.records"),
            "creditd.records_default");
  absl::StatusOr<MigrateResult> migrated = MigratePostgres(owner_, MigrateOptions());
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  // The month of the record stays in the default partition, and says so.
  ASSERT_EQ(migrated->partitions_skipped.size(), 1u);
  EXPECT_THAT(migrated->partitions_skipped[0], HasSubstr("records_default"));
  ExpectVerifies("a", 1);
  absl::StatusOr<std::optional<AuditRecord>> record = ReadRecord(serving_, "late-1");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->has_value());
}

// ---------------------------------------------------------------------------
// 2. Writing and reading back.

TEST_F(PgLogTest, RecordsReadBackByteForByteAndChain) {
  std::vector<AuditRecord> written;
  {
    absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "main");
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (int i = 0; i < 20; ++i) {
      AuditRecord r = Record(absl::StrCat("d-", i));
      if (i == 7) {
        r.decision_id = std::string("d-\0\xff-7", 6);
        r.customer_id = std::string("c-1\0hidden\xff\xfe", 12);
        r.request_id = std::string("\0", 1);
        r.facts_json = std::string("{\"a\": \"x\0y\"}\x80", 13);
        r.result_json = std::string("\0\0\xff\x01\0", 5);
        r.challenger = std::string("\x0a\x00\xc3\x28\0", 5);
        r.caller = "\xe2\x82";  // cut UTF-8
        r.outcome = std::string("decl\0ine", 8);
      }
      if (i == 8) r.result_json.clear();  // empty, not NULL
      written.push_back(r);
      ASSERT_TRUE((*sink)->Append(std::move(r)).ok());
    }
    EXPECT_EQ((*sink)->Committed().sequence, 20);
  }
  ExpectVerifies("main", 20);

  std::vector<AuditRecord> read = Matching(serving_, RecordFilter());
  ASSERT_EQ(read.size(), written.size());
  std::string previous;
  for (size_t i = 0; i < read.size(); ++i) {
    const AuditRecord& r = read[i];
    const AuditRecord& w = written[i];
    EXPECT_EQ(r.sequence, static_cast<int64_t>(i) + 1);
    for (const RecordField& field : kRecordFields) {
      EXPECT_EQ(r.*field.member, w.*field.member) << "record " << i << " " << field.column;
    }
    EXPECT_EQ(r.chain, "main");
    EXPECT_EQ(r.format, kLogFormat);
    EXPECT_EQ(r.previous_hash, previous) << i;
    EXPECT_EQ(r.hash, RecordHash(r)) << i;
    EXPECT_EQ(r.hash, ChainHash(previous, r.sequence, ContentHash(w))) << i;
    previous = r.hash;
  }

  // By id, NUL and all.
  absl::StatusOr<std::optional<AuditRecord>> seven =
      ReadRecord(serving_, std::string("d-\0\xff-7", 6));
  ASSERT_TRUE(seven.ok()) << seven.status();
  ASSERT_TRUE(seven->has_value());
  EXPECT_EQ((*seven)->sequence, 8);
  EXPECT_EQ((*seven)->customer_id, written[7].customer_id);
  EXPECT_EQ((*seven)->challenger, written[7].challenger);
  EXPECT_EQ((*seven)->hash, read[7].hash);
  absl::StatusOr<std::optional<AuditRecord>> cut = ReadRecord(serving_, "d-");
  ASSERT_TRUE(cut.ok());
  EXPECT_FALSE(cut->has_value());
  absl::StatusOr<std::optional<AuditRecord>> twelve = ReadRecord(serving_, "d-12");
  ASSERT_TRUE(twelve.ok());
  ASSERT_TRUE(twelve->has_value());
  EXPECT_EQ((*twelve)->sequence, 13);
  EXPECT_EQ((*twelve)->chain, "main");

  // The whole log is its one chain; its identity is the migrated one.
  absl::StatusOr<VerifyResult> whole = VerifyLog(serving_);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->ok);
  EXPECT_EQ(whole->records, 20);
  absl::StatusOr<LogIdentity> identity = ReadChainIdentity(serving_, "main");
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->log_id, log_id_);
  EXPECT_EQ(identity->chain_id, "main");
  EXPECT_EQ(ReadLogIdentity(serving_).status().code(), absl::StatusCode::kInvalidArgument);

  // Reopened, the chain continues.
  {
    absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "main");
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_EQ((*sink)->Committed().sequence, 20);
    AppendN(**sink, "again", 3);
  }
  ExpectVerifies("main", 23);
}

TEST_F(PgLogTest, FiltersSelectByEveryFieldAndTime) {
  // Times of three months, none with a partition: they go to the default.
  const char* const months[] = {"2030-01-15T10:00:00.000Z", "2030-02-15T10:00:00.000Z",
                                "2030-03-15T10:00:00.000Z"};
  std::vector<AuditRecord> written;
  {
    absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
    ASSERT_TRUE(sink.ok()) << sink.status();
    for (int i = 0; i < 24; ++i) {
      AuditRecord r = Record(absl::StrCat("f-", i), months[i % 3]);
      r.time[22] = static_cast<char>('0' + i / 3);  // distinct milliseconds
      r.decision = i % 2 == 0 ? "credit_application" : "limit_increase";
      r.customer_id = i % 4 == 0 ? std::string("c-\0\xff", 4) : "c-2";
      r.outcome = i % 5 == 0 ? "decline" : "approve";
      r.policy_version = i % 3 == 1 ? "2.0.0" : "1.0.0";
      if (i % 7 == 3) {
        r.kind = kReloadRecord;
        r.outcome.clear();
      }
      written.push_back(r);
      ASSERT_TRUE((*sink)->Append(std::move(r)).ok());
    }
  }
  auto expect = [&](const RecordFilter& filter, const std::function<bool(const AuditRecord&)>& want,
                    const std::string& what) {
    std::vector<std::string> expected;
    for (const AuditRecord& r : written) {
      if (want(r)) expected.push_back(r.decision_id);
    }
    EXPECT_FALSE(expected.empty()) << what;
    EXPECT_EQ(Ids(Matching(serving_, filter)), expected) << what;
    absl::StatusOr<int64_t> count = CountMatchingRecords(serving_, filter);
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, static_cast<int64_t>(expected.size())) << what;
  };
  RecordFilter f;
  f.decision = "limit_increase";
  expect(
      f, [](const AuditRecord& r) { return r.decision == "limit_increase"; }, "decision");
  f = {};
  f.customer_id = std::string("c-\0\xff", 4);
  expect(
      f, [](const AuditRecord& r) { return r.customer_id.size() == 4; }, "customer");
  f = {};
  f.outcome = "decline";
  expect(
      f, [](const AuditRecord& r) { return r.outcome == "decline"; }, "outcome");
  f = {};
  f.policy_version = "2.0.0";
  expect(
      f, [](const AuditRecord& r) { return r.policy_version == "2.0.0"; }, "version");
  f = {};
  f.kind = kReloadRecord;
  expect(
      f, [](const AuditRecord& r) { return r.kind == kReloadRecord; }, "kind");
  f = {};
  f.since = "2030-02-01";
  f.until = "2030-03-01";
  expect(
      f, [](const AuditRecord& r) { return absl::StartsWith(r.time, "2030-02"); }, "February");
  f = {};
  f.since = "2030-02-15T11:00:00.001+01:00";  // 10:00:00.001Z, inclusive
  f.until = "2030-03-15T10:00:00.002Z";       // exclusive
  expect(
      f,
      [](const AuditRecord& r) {
        return r.time >= "2030-02-15T10:00:00.001Z" && r.time < "2030-03-15T10:00:00.002Z";
      },
      "instants");
  f = {};
  f.decision = "credit_application";
  f.outcome = "approve";
  f.until = "2030-03-01";
  expect(
      f,
      [](const AuditRecord& r) {
        return r.decision == "credit_application" && r.outcome == "approve" && r.time < "2030-03";
      },
      "together");
  // Nothing matches: none, not an error.
  f = {};
  f.customer_id = std::string("c-2\0", 4);
  EXPECT_TRUE(Matching(serving_, f).empty());
  EXPECT_EQ(*CountMatchingRecords(serving_, f), 0);
  // A bad bound is named.
  f = {};
  f.since = "yesterday";
  absl::Status bad = ForEachMatchingRecord(serving_, f, [](AuditRecord&) { return true; });
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("since"));
  EXPECT_EQ(CountMatchingRecords(serving_, f).status().code(), absl::StatusCode::kInvalidArgument);
  // Stopping early stops.
  int visited = 0;
  ASSERT_TRUE(
      ForEachMatchingRecord(serving_, {}, [&](AuditRecord&) { return ++visited < 5; }).ok());
  EXPECT_EQ(visited, 5);
  ExpectVerifies("a", 24);
}

TEST_F(PgLogTest, RangesSplitTheLogAsOnePassReadsIt) {
  {
    absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
    absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "b");
    ASSERT_TRUE(a.ok() && b.ok());
    for (int i = 0; i < 15; ++i) {
      AuditRecord r = Record(absl::StrCat("r-", i));
      r.outcome = i % 3 == 0 ? "decline" : "approve";
      ASSERT_TRUE((i % 2 == 0 ? *a : *b)->Append(std::move(r)).ok());
    }
  }
  for (const std::optional<std::string>& outcome :
       {std::optional<std::string>(), std::optional<std::string>("decline")}) {
    RecordFilter filter;
    filter.outcome = outcome;
    const std::vector<std::string> all = Ids(Matching(serving_, filter));
    ASSERT_EQ(all.size(), outcome ? 5u : 15u);
    absl::StatusOr<std::unique_ptr<RecordRanges>> ranges = RecordRanges::Open(serving_, filter);
    ASSERT_TRUE(ranges.ok()) << ranges.status();
    const int64_t first = (*ranges)->first_sequence(), last = (*ranges)->last_sequence();
    ASSERT_LE(first, last);
    std::vector<AuditRecord> one_pass;
    ASSERT_TRUE((*ranges)
                    ->ForEach(first, last,
                              [&](AuditRecord& r) {
                                one_pass.push_back(r);
                                return true;
                              })
                    .ok());
    EXPECT_EQ(Ids(one_pass), all);
    // Split three ways, with a range that stops early in between.
    std::vector<std::string> split;
    const int64_t third = (last - first + 1) / 3;
    int stopped_after = 0;
    ASSERT_TRUE(
        (*ranges)->ForEach(first, last, [&](AuditRecord&) { return ++stopped_after < 2; }).ok());
    EXPECT_EQ(stopped_after, 2);
    for (const auto& [from, to] : {std::make_pair(first, first + third - 1),
                                   std::make_pair(first + third, first + 2 * third),
                                   std::make_pair(first + 2 * third + 1, last)}) {
      ASSERT_TRUE((*ranges)
                      ->ForEach(from, to,
                                [&](AuditRecord& r) {
                                  split.push_back(r.decision_id);
                                  return true;
                                })
                      .ok());
    }
    EXPECT_EQ(split, all);
    for (const AuditRecord& r : one_pass) {
      EXPECT_EQ(r.chain, (r.decision_id.back() - '0') % 2 == 0 ? "a" : "b") << r.decision_id;
      EXPECT_EQ(r.hash, RecordHash(r));
    }
  }
  ExpectVerifies("a", 8);
  ExpectVerifies("b", 7);
}

TEST_F(PgLogTest, StoredPoliciesReadBack) {
  static constexpr char kTiny[] = "=== tiny.credit\npolicy tiny\n\0\xff\n";
  const PolicySource tiny = Policy("tiny", "1.0.0", std::string(kTiny, sizeof(kTiny) - 1));
  const PolicySource other = Policy("other", "2.1.0", "=== other.credit\npolicy other\n");
  {
    absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->StorePolicy(tiny).ok());
    ASSERT_TRUE((*sink)->StorePolicy(other).ok());
    ASSERT_TRUE((*sink)->StorePolicy(tiny).ok());  // again: nothing new
    AppendN(**sink, "p", 2);
    absl::StatusOr<std::vector<StoredPolicy>> in_sink = (*sink)->StoredVersions();
    ASSERT_TRUE(in_sink.ok());
    EXPECT_EQ(in_sink->size(), 2u);
  }
  absl::StatusOr<std::vector<StoredPolicy>> stored = ReadStoredVersions(serving_);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 2u);
  const StoredPolicy& o = (*stored)[0];  // by name
  const StoredPolicy& t = (*stored)[1];
  EXPECT_EQ(o.name, "other");
  EXPECT_EQ(o.version, "2.1.0");
  EXPECT_EQ(o.sha256, other.sha256);
  EXPECT_EQ(o.source, other.source);
  EXPECT_EQ(t.name, "tiny");
  EXPECT_EQ(t.sha256, tiny.sha256);
  EXPECT_EQ(t.source, tiny.source);
  EXPECT_EQ(t.canonical_form, 2);
  EXPECT_EQ(t.first_served.size(), 24u) << t.first_served;
  absl::StatusOr<std::string> source = ReadPolicySource(serving_, tiny.sha256);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(*source, tiny.source);
  EXPECT_EQ(ReadPolicySource(serving_, crypto::Sha256Hex("none")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Value(owner_, "SELECT count(*) FROM creditd.policies"), "2");

  // A new sink reads what is bound.
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "b");
  ASSERT_TRUE(sink.ok()) << sink.status();
  absl::StatusOr<std::vector<StoredPolicy>> bound = (*sink)->StoredVersions();
  ASSERT_TRUE(bound.ok());
  ASSERT_EQ(bound->size(), 2u);
  EXPECT_EQ((*bound)[1].source, tiny.source);
}

// A record the store refuses (here: a decision id logged at that time
// already) fails its group, and the log goes on.
TEST_F(PgLogTest, ARefusedRecordFailsAndTheLogGoesOn) {
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
  ASSERT_TRUE(sink.ok()) << sink.status();
  const AuditRecord first = Record("dup");
  ASSERT_TRUE((*sink)->Append(first).ok());
  EXPECT_FALSE((*sink)->Append(first).ok());
  AppendN(**sink, "after", 3);
  ExpectVerifies("a", 4);
}

// ---------------------------------------------------------------------------
// 3. Chains.

TEST_F(PgLogTest, TwoChainsWrittenAtOnceEachVerifyAndOneProcessHoldsAChain) {
  constexpr int kEach = 60;
  std::vector<std::string> ids_a, ids_b;
  {
    absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
    ASSERT_TRUE(a.ok()) << a.status();
    absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "b");
    ASSERT_TRUE(b.ok()) << b.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        LogSink& sink = t % 2 == 0 ? **a : **b;
        for (int i = 0; i < kEach / 2; ++i) {
          EXPECT_TRUE(sink.Append(Record(absl::StrCat(t % 2 == 0 ? "a" : "b", t, "-", i))).ok());
        }
      });
    }
    for (std::thread& th : threads) th.join();

    // A second process on chain a is refused while the first holds it.
    PgStoreOptions options;
    options.chain_id = "a";
    absl::StatusOr<std::unique_ptr<PgStore>> third = PgStore::Open(serving_, options);
    EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();
    EXPECT_THAT(third.status().message(), HasSubstr("held by another process"));
    // A bad chain id never reaches the database.
    options.chain_id = "a/../b";
    EXPECT_EQ(PgStore::Open(serving_, options).status().code(), absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<std::vector<std::string>> chains = ListChains(serving_);
  ASSERT_TRUE(chains.ok()) << chains.status();
  EXPECT_THAT(*chains, ElementsAre("a", "b"));
  ExpectVerifies("a", kEach);
  ExpectVerifies("b", kEach);
  // The whole log has two chains: verify names them.
  absl::StatusOr<VerifyResult> whole = VerifyLog(serving_);
  EXPECT_EQ(whole.status().code(), absl::StatusCode::kInvalidArgument);
  // Every record names its chain.
  int64_t read = 0;
  ASSERT_TRUE(ForEachMatchingRecord(serving_, {}, [&](AuditRecord& r) {
                ++read;
                EXPECT_EQ(r.chain, r.decision_id.substr(0, 1)) << r.decision_id;
                return true;
              }).ok());
  EXPECT_EQ(read, 2 * kEach);
  absl::StatusOr<std::optional<AuditRecord>> one = ReadRecord(serving_, "b1-7");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->chain, "b");

  // Closed, chain a opens again and continues.
  {
    absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->Committed().sequence, kEach);
    AppendN(**a, "a-more", 5);
    EXPECT_EQ((*a)->Committed().sequence, kEach + 5);
  }
  ExpectVerifies("a", kEach + 5);
  ExpectVerifies("b", kEach);
}

// ---------------------------------------------------------------------------
// 4. The registry of versions, shared by every chain.

TEST_F(PgLogTest, AVersionNamesOneTextAcrossChains) {
  const PolicySource s1 = Policy("x", "1", "=== x.credit\npolicy x # one\n");
  const PolicySource s2 = Policy("x", "1", "=== x.credit\npolicy x # two\n");
  // b opens before a binds the version: only the database can refuse it.
  absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "b");
  ASSERT_TRUE(b.ok()) << b.status();
  {
    absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE((*a)->StorePolicy(s1).ok());
  }
  absl::Status refused = (*b)->StorePolicy(s2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(refused.message(), HasSubstr(s1.sha256));

  // A sink opened after the binding refuses the other text itself, and
  // takes the same one.
  absl::StatusOr<std::unique_ptr<LogSink>> c = OpenSink(serving_, "c");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->StorePolicy(s2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*c)->StorePolicy(s1).ok());
  ASSERT_TRUE((*c)->Append(Record("c-1")).ok());

  absl::StatusOr<std::vector<StoredPolicy>> stored = ReadStoredVersions(serving_);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].sha256, s1.sha256);
  EXPECT_EQ(ReadPolicySource(serving_, s2.sha256).status().code(), absl::StatusCode::kNotFound);
}

// The refusal above concerns that one version: the chain that was refused
// still logs decisions, and still binds the version to the text it has.
TEST_F(PgLogTest, ARefusedBindingDoesNotStopTheChain) {
  const PolicySource s1 = Policy("x", "1", "=== x.credit\npolicy x # one\n");
  const PolicySource s2 = Policy("x", "1", "=== x.credit\npolicy x # two\n");
  absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "b");
  ASSERT_TRUE(b.ok()) << b.status();
  {
    absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE((*a)->StorePolicy(s1).ok());
  }
  ASSERT_EQ((*b)->StorePolicy(s2).code(), absl::StatusCode::kFailedPrecondition);
  absl::Status next = (*b)->Append(Record("b-after-refusal"));
  EXPECT_TRUE(next.ok()) << next;
  absl::Status same = (*b)->StorePolicy(s1);
  EXPECT_TRUE(same.ok()) << same;
  absl::Status later = (*b)->Append(Record("b-later"));
  EXPECT_TRUE(later.ok()) << later;
}

// ---------------------------------------------------------------------------
// 5. Append-only.

TEST_F(PgLogTest, TheLogIsAppendOnly) {
  {
    absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->StorePolicy(Policy("x", "1", "=== x.credit\n")).ok());
    AppendN(**sink, "ao", 3);
  }
  const std::map<std::string, std::string> column = {
      {"records", "customer_id"}, {"policies", "name"},     {"versions", "name"},
      {"chains", "created"},      {"log_format", "format"}, {"log_info", "value"}};
  for (const auto& [table, col] : column) {
    const std::string t = absl::StrCat("creditd.", table);
    // The serving role has no such privilege.
    for (const std::string& sql : {absl::StrCat("UPDATE ", t, " SET ", col, " = ", col),
                                   absl::StrCat("DELETE FROM ", t), absl::StrCat("TRUNCATE ", t)}) {
      absl::StatusOr<Rows> r = Sql(serving_, sql);
      EXPECT_FALSE(r.ok()) << "serving: " << sql;
      EXPECT_THAT(r.status().message(), HasSubstr("42501")) << sql;
      EXPECT_THAT(r.status().message(), HasSubstr("permission denied")) << sql;
    }
    // The owner is stopped by the triggers.
    for (const std::string& sql : {absl::StrCat("UPDATE ", t, " SET ", col, " = ", col),
                                   absl::StrCat("DELETE FROM ", t), absl::StrCat("TRUNCATE ", t)}) {
      absl::StatusOr<Rows> r = Sql(owner_, sql);
      EXPECT_FALSE(r.ok()) << "owner: " << sql;
      EXPECT_THAT(r.status().message(), HasSubstr("append-only")) << sql;
    }
  }
  // A partition, written to directly, too.
  const std::string partition = absl::StrCat("creditd.", ThisMonthsPartition());
  for (const std::string& sql :
       {absl::StrCat("UPDATE ", partition, " SET outcome = outcome"),
        absl::StrCat("DELETE FROM ", partition), absl::StrCat("TRUNCATE ", partition),
        std::string("TRUNCATE creditd.records_default")}) {
    absl::StatusOr<Rows> r = Sql(owner_, sql);
    EXPECT_FALSE(r.ok()) << "owner: " << sql;
    EXPECT_THAT(r.status().message(), HasSubstr("append-only")) << sql;
  }
  // The serving role cannot get around the triggers, nor add objects.
  for (const std::string& sql :
       {absl::StrCat("ALTER TABLE ", partition, " DISABLE TRIGGER USER"),
        std::string("ALTER TABLE creditd.records DISABLE TRIGGER USER"),
        std::string("SET session_replication_role = replica"),
        std::string("CREATE TABLE creditd.extra (x int)"),
        std::string("CREATE FUNCTION creditd.f() RETURNS int LANGUAGE sql AS 'SELECT 1'"),
        std::string("DROP TABLE creditd.records")}) {
    absl::StatusOr<Rows> r = Sql(serving_, sql);
    EXPECT_FALSE(r.ok()) << "serving: " << sql;
    EXPECT_THAT(r.status().message(), HasSubstr("42501")) << sql;
  }
  ExpectVerifies("a", 3);
}

// ---------------------------------------------------------------------------
// 6. Failing closed, and recovering.

TEST_F(PgLogTest, ALostConnectionIsReopenedWithoutAGap) {
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<std::string> ok = AppendN(**sink, "before", 5);
  TerminateWriters();
  int failed = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string id = absl::StrCat("after-", i);
    absl::Status status = (*sink)->Append(Record(id));
    if (status.ok()) {
      ok.push_back(id);
    } else {
      ++failed;
      EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
      EXPECT_LT(i, 1) << "the log did not recover: " << status;
    }
  }
  EXPECT_LE(failed, 1);
  sink->reset();
  ExpectVerifies("a", static_cast<int64_t>(ok.size()));
  for (const std::string& id : ok) {
    absl::StatusOr<std::optional<AuditRecord>> r = ReadRecord(serving_, id);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->has_value()) << id;
  }
}

TEST_F(PgLogTest, AStoppedDatabaseFailsAppendsUntilItIsBack) {
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a");
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<std::string> ok = AppendN(**sink, "up", 5);
  std::vector<std::string> refused;
  Ctl("stop");
  for (int i = 0; i < 5; ++i) {
    const std::string id = absl::StrCat("down-", i);
    absl::Status status = (*sink)->Append(Record(id));
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    (status.ok() ? ok : refused).push_back(id);
  }
  EXPECT_EQ(VerifyChain(serving_, "a").status().code(), absl::StatusCode::kUnavailable);
  Ctl("start");
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  bool back = false;
  for (int i = 0; absl::Now() < deadline; ++i) {
    const std::string id = absl::StrCat("back-", i);
    absl::Status status = (*sink)->Append(Record(id));
    if (status.ok()) {
      ok.push_back(id);
      back = true;
      break;
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    refused.push_back(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(back) << "appends still fail 15 s after the database is back";
  for (const std::string& id : AppendN(**sink, "later", 5)) ok.push_back(id);
  sink->reset();
  // Every acknowledged record is there, and the chain has no gap.
  for (const std::string& id : ok) {
    absl::StatusOr<std::optional<AuditRecord>> r = ReadRecord(serving_, id);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->has_value()) << id << " was acknowledged but is not in the log";
  }
  absl::StatusOr<VerifyResult> result = VerifyChain(serving_, "a");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << result->problem;
  // A refused append may have reached the database all the same (its fate
  // was unknown), but is in the chain then.
  EXPECT_GE(result->records, static_cast<int64_t>(ok.size()));
  EXPECT_LE(result->records, static_cast<int64_t>(ok.size() + refused.size()));
}

// After losing its session, a writer whose chain another process took in
// the meantime is refused; it never writes a second history of the chain.
TEST_F(PgLogTest, AWriterWhoseChainWasTakenIsRefused) {
  absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  AppendN(**a, "a", 3);
  TerminateWriters();
  absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "a");
  ASSERT_TRUE(b.ok()) << "the lock should have gone with A's session: " << b.status();
  AppendN(**b, "b", 3);
  for (int i = 0; i < 3; ++i) {
    absl::Status status = (*a)->Append(Record(absl::StrCat("a-again-", i)));
    EXPECT_FALSE(status.ok()) << "A wrote to the chain B holds";
    EXPECT_TRUE(absl::IsUnavailable(status) || absl::IsFailedPrecondition(status)) << status;
  }
  AppendN(**b, "b-more", 2);
  ExpectVerifies("a", 8);
  // Once B lets go, A takes the chain back where B left it.
  b->reset();
  absl::Status status = (*a)->Append(Record("a-back"));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ((*a)->Committed().sequence, 9);
  a->reset();
  ExpectVerifies("a", 9);
}

// As above, but A first notices the lost session storing a policy (not
// committing a record), and B has let go of the chain by the time A writes.
TEST_F(PgLogTest, AWriterReconnectingAfterAnotherWroteItsChainDoesNotFork) {
  absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  AppendN(**a, "a", 3);
  TerminateWriters();
  EXPECT_EQ((*a)->StorePolicy(Policy("x", "1", "=== x.credit\n")).code(),
            absl::StatusCode::kUnavailable);
  {
    absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "a");
    ASSERT_TRUE(b.ok()) << b.status();
    AppendN(**b, "b", 2);
  }
  // A's head (3) is stale now: the chain is at 5.
  for (int i = 0; i < 3; ++i) {
    absl::Status status = (*a)->Append(Record(absl::StrCat("a-again-", i)));
    if (status.ok()) break;
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  a->reset();
  absl::StatusOr<VerifyResult> result = VerifyChain(serving_, "a");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << "record " << result->first_broken << ": " << result->problem;
  EXPECT_EQ(Value(owner_,
                  "SELECT count(*) FROM (SELECT sequence FROM creditd.records WHERE chain_id = "
                  "'a' GROUP BY sequence HAVING count(*) > 1) AS forked"),
            "0");
  EXPECT_EQ(result->records, 6);
}

// ---------------------------------------------------------------------------
// 7. Retention: old records archived, the chain checked from a checkpoint.

TEST_F(PgLogTest, ArchivedRecordsAreVouchedForByACheckpoint) {
  constexpr int64_t kKeep = 4;
  LogIdentity identity;
  {
    absl::StatusOr<std::unique_ptr<LogSink>> a = OpenSink(serving_, "a");
    ASSERT_TRUE(a.ok()) << a.status();
    absl::StatusOr<std::unique_ptr<LogSink>> b = OpenSink(serving_, "b");
    ASSERT_TRUE(b.ok()) << b.status();
    identity = (*a)->identity();
    AppendN(**a, "a", 10);
    AppendN(**b, "b", 10);
  }
  EXPECT_EQ(identity.log_id, log_id_);
  absl::StatusOr<VerifyResult> whole = VerifyChain(serving_, "a", {kKeep, 10});
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(whole->ok);
  const std::string head_at_keep = whole->hashes[kKeep];
  ASSERT_EQ(head_at_keep.size(), 64u);

  absl::StatusOr<Rows> where = Sql(
      owner_, "SELECT DISTINCT tableoid::regclass::text FROM creditd.records WHERE chain_id = 'a'");
  ASSERT_TRUE(where.ok()) << where.status();
  ASSERT_EQ(where->size(), 1u);
  const std::string partition = (*where)[0][0];
  EXPECT_EQ(partition, absl::StrCat("creditd.", ThisMonthsPartition()));
  auto remove = [&](const std::string& condition) {
    absl::StatusOr<Rows> removed =
        Sql(owner_, absl::StrCat("ALTER TABLE ", partition, " DISABLE TRIGGER USER; DELETE FROM ",
                                 partition, " WHERE ", condition, "; ALTER TABLE ", partition,
                                 " ENABLE TRIGGER USER"));
    ASSERT_TRUE(removed.ok()) << removed.status();
  };
  remove(absl::StrCat("chain_id = 'a' AND sequence <= ", kKeep));

  absl::StatusOr<VerifyResult> held = VerifyChain(serving_, "a", {kKeep, 10});
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE(held->ok) << held->problem;
  EXPECT_EQ(held->archived, kKeep);
  EXPECT_EQ(held->archived_head, head_at_keep);
  EXPECT_EQ(held->records, 10 - kKeep);
  EXPECT_EQ(held->head.sequence, 10);
  EXPECT_EQ(held->hashes[kKeep], head_at_keep);
  EXPECT_EQ(held->hashes[10], whole->hashes[10]);

  CheckpointFile at_keep{"4.checkpoint",
                         {identity.log_id, "a", kKeep, head_at_keep, "2026-01-01T00:00:00Z"}};
  CheckpointFile at_ten{"10.checkpoint",
                        {identity.log_id, "a", 10, whole->hashes[10], "2026-01-01T00:01:00Z"}};
  CheckpointReport report =
      CheckLogAgainst({at_keep, at_ten}, identity, held->head.sequence, held->hashes, kKeep);
  EXPECT_TRUE(report.problems.empty()) << report.problems[0].message;
  EXPECT_EQ(report.covered, 10);
  // A later checkpoint the records held agree with signs where the chain
  // resumes too: each hash covers the sequence and the hash before.
  report = CheckLogAgainst({at_ten}, identity, held->head.sequence, held->hashes, kKeep);
  EXPECT_TRUE(report.problems.empty()) << report.problems[0].message;
  // Without any, what was removed is unknown.
  report = CheckLogAgainst({}, identity, held->head.sequence, held->hashes, kKeep);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kTruncated);
  // Nor does a checkpoint of that count with another head vouch for it.
  CheckpointFile wrong = at_keep;
  wrong.checkpoint.head = whole->hashes[10];
  report = CheckLogAgainst({wrong}, identity, held->head.sequence, held->hashes, kKeep);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kTruncated);

  // A record removed from the middle of a chain breaks it.
  remove("chain_id = 'b' AND sequence = 6");
  absl::StatusOr<VerifyResult> broken = VerifyChain(serving_, "b");
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_FALSE(broken->ok);
  EXPECT_EQ(broken->first_broken, 7);
  // And one changed, too.
  absl::StatusOr<Rows> changed = Sql(
      owner_, absl::StrCat("ALTER TABLE ", partition, " DISABLE TRIGGER USER; UPDATE ", partition,
                           " SET customer_id = 'x'::bytea WHERE chain_id = 'a' AND "
                           "sequence = 8; ALTER TABLE ",
                           partition, " ENABLE TRIGGER USER"));
  ASSERT_TRUE(changed.ok()) << changed.status();
  broken = VerifyChain(serving_, "a");
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_FALSE(broken->ok);
  EXPECT_EQ(broken->first_broken, 8);
}

// ---------------------------------------------------------------------------
// 8. Async durability.

TEST_F(PgLogTest, AsyncModeWritesEverythingByFlush) {
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a", Durability::kAsync);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::atomic<int> answered{0}, failed{0};
  for (int i = 0; i < 200; ++i) {
    if (i % 2 == 0) {
      ASSERT_TRUE((*sink)->Append(Record(absl::StrCat("q-", i))).ok());
    } else {
      (*sink)->AppendAsync(Record(absl::StrCat("q-", i)), [&](absl::Status status) {
        if (!status.ok()) ++failed;
        ++answered;
      });
    }
  }
  ASSERT_TRUE((*sink)->Flush().ok());
  EXPECT_EQ(answered.load(), 100);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ((*sink)->Committed().sequence, 200);
  ExpectVerifies("a", 200);
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) expected.push_back(absl::StrCat("q-", i));
  EXPECT_EQ(Ids(Matching(serving_, {})), expected);
}

// In async mode nobody waits for a record, so a group that fails is tried
// again. A record the database refuses for itself (a decision id logged at
// that time already; also what a group whose commit was acknowledged but
// whose answer was lost becomes when tried again) must not be tried forever
// in front of every record behind it.
TEST_F(PgLogTest, InAsyncModeARefusedRecordDoesNotStopTheLog) {
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a", Durability::kAsync);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const AuditRecord first = Record("once");
  ASSERT_TRUE((*sink)->Append(first).ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  ASSERT_TRUE((*sink)->Append(first).ok());  // queued: refused when written
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*sink)->Append(Record(absl::StrCat("n-", i))).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  absl::Status flushed;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    flushed = (*sink)->Flush();
  } while (!flushed.ok() && absl::Now() < deadline);
  EXPECT_TRUE(flushed.ok()) << flushed;
  sink->reset();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::optional<AuditRecord>> r = ReadRecord(serving_, absl::StrCat("n-", i));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->has_value()) << "n-" << i << " was never written";
  }
  absl::StatusOr<VerifyResult> result = VerifyChain(serving_, "a");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok) << result->problem;
}

TEST_F(PgLogTest, AsyncModeKeepsRecordsWhileTheDatabaseIsDown) {
  absl::StatusOr<std::unique_ptr<LogSink>> sink = OpenSink(serving_, "a", Durability::kAsync);
  ASSERT_TRUE(sink.ok()) << sink.status();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*sink)->Append(Record(absl::StrCat("w-", i))).ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  Ctl("stop");
  for (int i = 5; i < 10; ++i) ASSERT_TRUE((*sink)->Append(Record(absl::StrCat("w-", i))).ok());
  EXPECT_EQ((*sink)->Flush().code(), absl::StatusCode::kUnavailable);
  Ctl("start");
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  absl::Status flushed;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    flushed = (*sink)->Flush();
  } while (!flushed.ok() && absl::Now() < deadline);
  ASSERT_TRUE(flushed.ok()) << flushed;
  EXPECT_TRUE((*sink)->Close(absl::Seconds(5)).ok());
  sink->reset();
  ExpectVerifies("a", 10);
}

}  // namespace
}  // namespace creditd::audit
