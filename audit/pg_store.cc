#include "audit/pg_store.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "audit/log_location.h"
#include "audit/pg_common.h"
#include "crypto/sha256.h"

namespace creditd::audit {

using pg::Bytes;
using pg::Exec;
using pg::Int;
using pg::Params;
using pg::Result;

namespace {

constexpr char kInsertRecord[] = "creditd_insert_record";
// The same, passing over a record whose decision id and time are in the log
// already (its group committed once, though the writer did not hear so).
constexpr char kInsertRecordOnce[] = "creditd_insert_record_once";

// A record's parameters for the insert, pointing into the record and the
// chain id, which must outlive their use.
class InsertParams {
 public:
  InsertParams()
      : values_(std::size(kRecordFields) + 4), lengths_(values_.size()), formats_(values_.size()) {}
  void Set(const std::string& chain, const AuditRecord& r) {
    sequence_ = std::to_string(r.sequence);
    size_t i = 0;
    auto add = [&](const std::string& v, int format) {
      values_[i] = v.data();
      lengths_[i] = static_cast<int>(v.size());
      formats_[i] = format;
      ++i;
    };
    add(chain, 0);
    add(sequence_, 0);
    for (const RecordField& field : kRecordFields) add(r.*field.member, 1);
    add(r.previous_hash, 0);
    add(r.hash, 0);
  }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::string sequence_;
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
};

// The record columns: every field as bytes (bytea), stored and read back
// byte for byte whatever it holds.
std::string RecordsTable() {
  std::string sql =
      "CREATE TABLE creditd.records (\n"
      "  position bigint GENERATED ALWAYS AS IDENTITY,\n"
      "  chain_id text NOT NULL,\n"
      "  sequence bigint NOT NULL CHECK (sequence > 0)";
  for (const RecordField& field : kRecordFields) {
    absl::StrAppend(&sql, ",\n  ", field.column, " bytea NOT NULL");
  }
  absl::StrAppend(&sql,
                  ",\n  previous_hash text NOT NULL,\n  hash text NOT NULL,\n"
                  "  PRIMARY KEY (chain_id, sequence, time),\n"
                  "  UNIQUE (decision_id, time)\n"
                  ") PARTITION BY RANGE (time);\n"
                  "CREATE INDEX records_position ON creditd.records (position);\n"
                  "CREATE TABLE creditd.records_default PARTITION OF creditd.records DEFAULT;\n");
  return sql;
}

// Version 1 of the schema. Every table is append-only: the triggers refuse
// UPDATE, DELETE and TRUNCATE, whoever asks (an owner can disable them;
// the signed checkpoints catch what that allows).
constexpr char kSchemaV1[] = R"sql(
CREATE SCHEMA IF NOT EXISTS creditd;
CREATE TABLE creditd.log_info (
  key text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE creditd.chains (
  chain_id text PRIMARY KEY,
  lock_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,
  created text NOT NULL
);
CREATE TABLE creditd.log_format (
  chain_id text NOT NULL,
  first_sequence bigint NOT NULL,
  format integer NOT NULL,
  PRIMARY KEY (chain_id, first_sequence)
);
CREATE TABLE creditd.policies (
  sha256 text PRIMARY KEY,
  name text NOT NULL,
  version text NOT NULL,
  source bytea NOT NULL
);
CREATE TABLE creditd.versions (
  name text NOT NULL,
  version text NOT NULL,
  sha256 text NOT NULL,
  canonical_form integer NOT NULL,
  first_served text NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE FUNCTION creditd.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the creditd decision log is append-only: % of %.% refused',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
)sql";

// The append-only triggers of one table.
std::string Triggers(const std::string& table) {
  return absl::StrCat("CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON creditd.",
                      table, " FOR EACH ROW EXECUTE FUNCTION creditd.append_only();\n",
                      "CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON creditd.",
                      table, " FOR EACH STATEMENT EXECUTE FUNCTION creditd.append_only();\n");
}

// A partition of records has the parent's row trigger already (PostgreSQL
// clones row triggers to partitions); a statement trigger is its own.
std::string PartitionTriggers(const std::string& partition) {
  return absl::StrCat("CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON creditd.",
                      partition, " FOR EACH STATEMENT EXECUTE FUNCTION creditd.append_only();\n");
}

constexpr const char* kTables[] = {"log_info", "chains",   "log_format",
                                   "policies", "versions", "records"};

// A bytea literal of `text`.
std::string ByteaLiteral(absl::string_view text) {
  return absl::StrCat("'\\x", absl::BytesToHexString(text), "'::bytea");
}

// Quotes an identifier (a role name) for SQL.
std::string Identifier(PGconn* conn, const std::string& name) {
  char* quoted = PQescapeIdentifier(conn, name.data(), name.size());
  if (quoted == nullptr) return "";
  std::string out = quoted;
  PQfreemem(quoted);
  return out;
}

}  // namespace

absl::Status CheckChainId(const std::string& chain) {
  if (chain.empty() || chain.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("a chain (replica) id has 1 to 64 characters, not ", chain.size()));
  }
  for (char c : chain) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          "a chain (replica) id is made of letters, digits, '.', '_' and '-'");
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The writer.

PgStore::PgStore(std::string location, PgStoreOptions options)
    : location_(std::move(location)), options_(std::move(options)) {}

PgStore::~PgStore() { Disconnect(); }

void PgStore::Disconnect() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancel_ != nullptr) PQfreeCancel(cancel_);
    cancel_ = nullptr;
  }
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

absl::StatusOr<std::unique_ptr<PgStore>> PgStore::Open(const std::string& location,
                                                       const PgStoreOptions& options) {
  if (absl::Status status = CheckChainId(options.chain_id); !status.ok()) return status;
  auto store = std::unique_ptr<PgStore>(new PgStore(location, options));
  if (absl::Status status = store->Connect(); !status.ok()) return status;
  absl::StatusOr<ChainHead> head = store->ReadHead();
  if (!head.ok()) return head.status();
  // Records from here on are in the current format; say so once.
  absl::StatusOr<std::vector<std::pair<int64_t, int>>> formats =
      pg::ChainFormats(store->conn_, options.chain_id);
  if (!formats.ok()) return formats.status();
  if (formats->empty() || formats->back().second != kLogFormat) {
    absl::StatusOr<Result> r =
        Exec(store->conn_,
             "INSERT INTO creditd.log_format (chain_id, first_sequence, "
             "format) VALUES ($1, $2, $3)",
             Params().Text(options.chain_id).Int(head->sequence + 1).Int(kLogFormat),
             "cannot record the log's format");
    if (!r.ok()) return r.status();
  }
  return store;
}

absl::Status PgStore::Connect() {
  Disconnect();
  const std::string shown = LocationForDisplay(location_);
  absl::StatusOr<pg::Conn> conn = pg::Connect(location_, "creditd");
  if (!conn.ok()) return conn.status();
  PGconn* c = conn->get();
  absl::StatusOr<std::string> log_id = pg::CheckSchema(c, shown);
  if (!log_id.ok()) return log_id.status();
  // Durable: COMMIT returns once the WAL is flushed (and, with synchronous
  // standbys, replicated); async mode lets the database flush shortly after.
  absl::StatusOr<Result> set =
      Exec(c,
           options_.durability == Durability::kDurable ? "SET synchronous_commit = on"
                                                       : "SET synchronous_commit = off",
           Params(), "cannot configure the session");
  if (!set.ok()) return set.status();
  absl::StatusOr<Result> chain =
      Exec(c,
           "INSERT INTO creditd.chains (chain_id, created) VALUES ($1, "
           "$2) ON CONFLICT (chain_id) DO NOTHING",
           Params().Text(options_.chain_id).Text(LogTimeNow()), "cannot register the chain");
  if (!chain.ok()) return chain.status();
  absl::StatusOr<Result> key =
      Exec(c, "SELECT lock_key FROM creditd.chains WHERE chain_id = $1",
           Params().Text(options_.chain_id), "cannot read the chain's lock");
  if (!key.ok()) return key.status();
  if (PQntuples(key->get()) != 1) {
    return absl::DataLossError(absl::StrCat("audit log ", shown, ": chain `", options_.chain_id,
                                            "` is not registered after registering it"));
  }
  lock_key_ = static_cast<int>(Int(key->get(), 0, 0));
  absl::StatusOr<Result> locked =
      Exec(c, "SELECT pg_try_advisory_lock($1, $2)", Params().Int(pg::kLockClass).Int(lock_key_),
           "cannot lock the chain");
  if (!locked.ok()) return locked.status();
  if (Int(locked->get(), 0, 0) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "chain `", options_.chain_id, "` of the audit log ", shown,
        " is held by another process (a creditd with the same --replica_id?); each replica "
        "writes a chain of its own, and one process holds a chain until it exits"));
  }
  std::vector<std::string> columns = {"chain_id", "sequence"};
  for (const RecordField& field : kRecordFields) columns.push_back(field.column);
  columns.push_back("previous_hash");
  columns.push_back("hash");
  std::vector<std::string> marks;
  for (size_t i = 1; i <= columns.size(); ++i) marks.push_back(absl::StrCat("$", i));
  const std::string insert =
      absl::StrCat("INSERT INTO creditd.records (", absl::StrJoin(columns, ", "), ") VALUES (",
                   absl::StrJoin(marks, ", "), ")");
  for (const auto& [name, sql] :
       {std::make_pair(kInsertRecord, insert),
        std::make_pair(kInsertRecordOnce,
                       absl::StrCat(insert, " ON CONFLICT (decision_id, time) DO NOTHING"))}) {
    Result prepared(PQprepare(c, name, sql.c_str(), 0, nullptr));
    if (prepared == nullptr || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return pg::StatusOf(c, prepared.get(), "cannot prepare the insert");
    }
  }
  careful_ = true;
  if (identity_.log_id.empty()) {
    identity_ = {*log_id, options_.chain_id};
  } else if (identity_.log_id != *log_id) {
    // Another database answers at the same address (restored over, or
    // replaced): this chain's records do not go on in another log.
    return absl::FailedPreconditionError(
        absl::StrCat("audit log ", shown, ": the database now holds log ", *log_id, ", not log ",
                     identity_.log_id, " this creditd writes; not writing to it"));
  }
  conn_ = conn->release();
  std::lock_guard<std::mutex> lock(mutex_);
  cancel_ = PQgetCancel(conn_);
  return absl::OkStatus();
}

absl::Status PgStore::EnsureConnected() {
  if (interrupted_) return absl::UnavailableError("audit log: closing");
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  // The session is gone, and the chain's lock with it: connect again and
  // take the lock again before writing anything.
  return Connect();
}

absl::StatusOr<ChainHead> PgStore::ReadHead() {
  if (absl::Status status = EnsureConnected(); !status.ok()) return status;
  absl::StatusOr<Result> r = Exec(conn_,
                                  "SELECT sequence, hash FROM creditd.records WHERE chain_id = $1 "
                                  "ORDER BY sequence DESC LIMIT 1",
                                  Params().Text(options_.chain_id), "cannot read the last record");
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) == 0) return ChainHead{};
  return ChainHead{Int(r->get(), 0, 0), Bytes(r->get(), 0, 1)};
}

absl::Status PgStore::Begin() {
  std::function<absl::Status()> fault;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fault = fault_;
  }
  if (fault) {
    if (absl::Status status = fault(); !status.ok()) return status;
  }
  if (absl::Status status = EnsureConnected(); !status.ok()) return status;
  pending_.clear();
  began_ = false;
  head_checked_ = false;
  inserted_ = 0;
  return absl::OkStatus();
}

absl::Status PgStore::InsertPolicy(const PolicySource& policy) {
  if (!began_) {
    absl::StatusOr<Result> begin = Exec(conn_, "BEGIN", Params(), "cannot begin");
    if (!begin.ok()) return begin.status();
    began_ = true;
  }
  absl::StatusOr<Result> text =
      Exec(conn_,
           "INSERT INTO creditd.policies (sha256, name, version, source) "
           "VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
           Params().Text(policy.sha256).Text(policy.name).Text(policy.version).Bytes(policy.source),
           "cannot store a policy");
  if (!text.ok()) return text.status();
  absl::StatusOr<Result> bind = Exec(conn_,
                                     "INSERT INTO creditd.versions (name, version, sha256, "
                                     "canonical_form, first_served) VALUES ($1, $2, $3, $4, $5) "
                                     "ON CONFLICT (name, version) DO NOTHING",
                                     Params()
                                         .Text(policy.name)
                                         .Text(policy.version)
                                         .Text(policy.sha256)
                                         .Int(policy.canonical_form)
                                         .Text(policy.first_served),
                                     "cannot bind a policy version");
  if (!bind.ok()) return bind.status();
  if (std::strcmp(PQcmdTuples(bind->get()), "1") == 0) return absl::OkStatus();
  absl::StatusOr<Result> bound =
      Exec(conn_, "SELECT sha256 FROM creditd.versions WHERE name = $1 AND version = $2",
           Params().Text(policy.name).Text(policy.version), "cannot bind a policy version");
  if (!bound.ok()) return bound.status();
  if (PQntuples(bound->get()) != 1) {
    return absl::UnavailableError("audit log: cannot bind a policy version");
  }
  const std::string sha256 = Bytes(bound->get(), 0, 0);
  if (sha256 == policy.sha256) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("audit log: version ", policy.version, " of `",
                                                    policy.name, "` is bound to sha256 ", sha256,
                                                    ", not ", policy.sha256));
}

absl::Status PgStore::Insert(const AuditRecord& record) {
  if (!careful_) {
    pending_.push_back(&record);
    return absl::OkStatus();
  }
  // Record by record, each answered, as SQLite writes: after a reconnect
  // or a failed group, where the chain is and what it holds are checked.
  if (!began_) {
    absl::StatusOr<Result> begin = Exec(conn_, "BEGIN", Params(), "cannot begin");
    if (!begin.ok()) return absl::UnavailableError(begin.status().message());
    began_ = true;
  }
  if (!head_checked_) {
    // Another process may have held the chain while this one was away: its
    // records are never forked. A failed group has the writer read the head.
    absl::StatusOr<ChainHead> head = ReadHead();
    if (!head.ok()) return absl::UnavailableError(head.status().message());
    if (head->sequence + 1 != record.sequence || head->hash != record.previous_hash) {
      return absl::UnavailableError(absl::StrCat(
          "audit log: chain `", options_.chain_id, "` is at record ", head->sequence,
          ", not where this writer left it (another process wrote it meanwhile?); reading its "
          "head again"));
    }
    head_checked_ = true;
  }
  InsertParams params;
  params.Set(options_.chain_id, record);
  Result r(PQexecPrepared(conn_, kInsertRecordOnce, params.size(), params.values(),
                          params.lengths(), params.formats(), 1));
  if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return absl::UnavailableError(pg::StatusOf(conn_, r.get(), "cannot write").message());
  }
  if (std::strcmp(PQcmdTuples(r.get()), "0") == 0) {
    // This record alone: the group goes on without it.
    return absl::AlreadyExistsError(absl::StrCat("decision ", record.decision_id, " of ",
                                                 record.time, " is in the log already"));
  }
  ++inserted_;
  return absl::OkStatus();
}

absl::Status PgStore::Commit() {
  if (careful_) {
    absl::Status status;
    if (began_) {
      absl::StatusOr<Result> commit = Exec(conn_, "COMMIT", Params(), "cannot commit");
      if (!commit.ok()) status = absl::UnavailableError(commit.status().message());
    }
    began_ = false;
    // Back to pipelining once a group with records has committed here.
    if (status.ok() && inserted_ > 0) careful_ = false;
    inserted_ = 0;
    return status;
  }
  // One round trip: BEGIN (unless policies began it), every insert and
  // COMMIT, pipelined; then every result.
  if (PQenterPipelineMode(conn_) != 1) {
    return absl::UnavailableError(absl::StrCat("audit log: cannot write: ", pg::ErrorOf(conn_)));
  }
  int sent = 0;
  bool ok = true;
  auto send = [&](const char* sql) {
    ok = ok && PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 1) == 1;
    sent += ok ? 1 : 0;
  };
  if (!began_) send("BEGIN");
  InsertParams params;
  for (const AuditRecord* r : pending_) {
    if (!ok) break;
    params.Set(options_.chain_id, *r);
    ok = PQsendQueryPrepared(conn_, kInsertRecord, params.size(), params.values(), params.lengths(),
                             params.formats(), 1) == 1;
    sent += ok ? 1 : 0;
  }
  send("COMMIT");
  ok = ok && PQpipelineSync(conn_) == 1;
  // Every result, the first error kept; after an error the rest of the
  // pipeline is aborted (PGRES_PIPELINE_ABORTED) up to the sync.
  absl::Status status;
  if (!ok) {
    status = absl::UnavailableError(absl::StrCat("audit log: cannot write: ", pg::ErrorOf(conn_)));
  }
  for (int i = 0; i < sent && PQstatus(conn_) == CONNECTION_OK; ++i) {
    Result r(PQgetResult(conn_));
    if (r == nullptr) break;
    const ExecStatusType s = PQresultStatus(r.get());
    if (s != PGRES_COMMAND_OK && status.ok()) {
      status = s == PGRES_PIPELINE_ABORTED
                   ? absl::UnavailableError("audit log: cannot write: the group was aborted")
                   : pg::StatusOf(conn_, r.get(), "cannot write");
    }
    Result end(PQgetResult(conn_));  // each command's results end with a null
  }
  if (ok) {
    // Up to the sync's result; anything else unread (a command cut short by
    // a lost connection) is passed over, a few at most.
    bool synced = false;
    for (int left = sent + 4; !synced && left > 0 && PQstatus(conn_) == CONNECTION_OK; --left) {
      Result r(PQgetResult(conn_));
      synced = r != nullptr && PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC;
    }
    if (!synced && status.ok()) {
      status = absl::UnavailableError("audit log: cannot write: the commit was not confirmed");
    }
    ok = synced;
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (status.ok() || !absl::IsUnavailable(status)) {
      status = absl::UnavailableError(absl::StrCat(
          "audit log: the connection was lost while committing: ", pg::ErrorOf(conn_)));
    }
  } else if (!ok || PQexitPipelineMode(conn_) != 1) {
    // The pipeline was not sent whole, or not read to its end: the
    // connection's state is not known; the next group connects afresh.
    Disconnect();
  }
  pending_.clear();
  began_ = false;
  // A failed group is written again record by record (a record the log
  // holds already, from a commit whose answer was lost, fails alone).
  if (!status.ok()) careful_ = true;
  // Whatever went wrong, the writer is told the group's fate is not known
  // (it reads the head again); a record's own error fails the group too.
  if (!status.ok() && !absl::IsUnavailable(status)) {
    status = absl::UnavailableError(status.message());
  }
  return status;
}

void PgStore::Rollback() {
  pending_.clear();
  began_ = false;
  careful_ = true;
  head_checked_ = false;
  inserted_ = 0;
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return;
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) {
    // A pipeline left mid-way: the connection's state is not known.
    Disconnect();
    return;
  }
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    (void)Exec(conn_, "ROLLBACK", Params(), "cannot roll back");
  }
}

void PgStore::Interrupt() {
  interrupted_ = true;
  std::lock_guard<std::mutex> lock(mutex_);
  if (cancel_ != nullptr) {
    char error[256];
    (void)PQcancel(cancel_, error, sizeof(error));
  }
}

absl::StatusOr<std::vector<StoredPolicy>> PgStore::ReadBindings() {
  if (absl::Status status = EnsureConnected(); !status.ok()) return status;
  return pg::ReadBindings(conn_);
}

void PgStore::SetFaultForTesting(std::function<absl::Status()> fault) {
  std::lock_guard<std::mutex> lock(mutex_);
  fault_ = std::move(fault);
}

// ---------------------------------------------------------------------------
// The schema.

absl::StatusOr<MigrateResult> MigratePostgres(const std::string& location,
                                              const MigrateOptions& options) {
  if (options.months_ahead < 0 || options.months_ahead > 120) {
    return absl::InvalidArgumentError("months ahead: 0 to 120");
  }
  absl::StatusOr<pg::Conn> conn = pg::Connect(location, "creditctl audit migrate");
  if (!conn.ok()) return conn.status();
  PGconn* c = conn->get();
  MigrateResult result;
  auto run = [c](const std::string& sql, absl::string_view what) -> absl::Status {
    Result r(PQexec(c, sql.c_str()));
    const ExecStatusType status = r != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return pg::StatusOf(c, r.get(), what);
    }
    return absl::OkStatus();
  };
  // One migration at a time, whole or not at all.
  if (absl::Status s = run("BEGIN", "cannot begin"); !s.ok()) return s;
  auto fail = [&](absl::Status s) {
    (void)run("ROLLBACK", "cannot roll back");
    return s;
  };
  if (absl::Status s = run("SELECT pg_advisory_xact_lock(1667589476)", "cannot lock the schema");
      !s.ok()) {
    return fail(s);
  }
  absl::StatusOr<Result> has = Exec(c, "SELECT to_regclass('creditd.log_info') IS NOT NULL",
                                    Params(), "cannot read the schema");
  if (!has.ok()) return fail(has.status());
  if (Int(has->get(), 0, 0) != 0) {
    absl::StatusOr<Result> v =
        Exec(c, "SELECT value FROM creditd.log_info WHERE key = 'schema_version'", Params(),
             "cannot read the schema's version");
    if (!v.ok()) return fail(v.status());
    if (PQntuples(v->get()) == 1 &&
        !absl::SimpleAtoi(Bytes(v->get(), 0, 0), &result.from_version)) {
      return fail(absl::DataLossError("the log's schema version is not a number"));
    }
  }
  if (result.from_version > kPostgresSchemaVersion) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("the log's schema is version ", result.from_version,
                     ", newer than this creditctl's (", kPostgresSchemaVersion, ")")));
  }
  if (result.from_version < 1) {
    absl::StatusOr<std::string> log_id = NewLogId();
    if (!log_id.ok()) return fail(log_id.status());
    std::string sql = absl::StrCat(kSchemaV1, RecordsTable());
    for (const char* table : kTables) absl::StrAppend(&sql, Triggers(table));
    absl::StrAppend(&sql, PartitionTriggers("records_default"));
    absl::StrAppend(&sql, "INSERT INTO creditd.log_info (key, value) VALUES ('log_id', '", *log_id,
                    "'), ('schema_version', '1'), ('created', '", LogTimeNow(), "');\n");
    if (absl::Status s = run(sql, "cannot create the schema"); !s.ok()) return fail(s);
  }
  result.to_version = kPostgresSchemaVersion;
  // Month partitions, this month and the ones ahead; a record of a month
  // without one goes to records_default.
  const absl::CivilMonth month = absl::ToCivilMonth(options.now, absl::UTCTimeZone());
  for (int i = 0; i <= options.months_ahead; ++i) {
    const absl::CivilMonth m = month + i;
    const std::string name = absl::StrFormat("records_%04d_%02d", m.year(), m.month());
    absl::StatusOr<Result> exists =
        Exec(c, "SELECT to_regclass($1) IS NOT NULL", Params().Text(absl::StrCat("creditd.", name)),
             "cannot read the partitions");
    if (!exists.ok()) return fail(exists.status());
    if (Int(exists->get(), 0, 0) != 0) continue;
    const std::string from = absl::StrFormat("%04d-%02d", m.year(), m.month());
    const absl::CivilMonth next = m + 1;
    const std::string to = absl::StrFormat("%04d-%02d", next.year(), next.month());
    // Records of the month in the default partition keep it from being
    // added (PostgreSQL would refuse): the month stays there, told.
    absl::StatusOr<Result> early =
        Exec(c,
             absl::StrCat("SELECT count(*) FROM creditd.records_default WHERE time >= ",
                          ByteaLiteral(from), " AND time < ", ByteaLiteral(to)),
             Params(), "cannot read the default partition");
    if (!early.ok()) return fail(early.status());
    if (const int64_t held = Int(early->get(), 0, 0); held > 0) {
      result.partitions_skipped.push_back(
          absl::StrCat(name, ": ", held, " records of ", from,
                       " are in records_default already (migrate ran after the month began); "
                       "the month stays there"));
      continue;
    }
    const std::string sql = absl::StrCat(
        "CREATE TABLE creditd.", name, " PARTITION OF creditd.records FOR VALUES FROM (",
        ByteaLiteral(from), ") TO (", ByteaLiteral(to), ");\n", PartitionTriggers(name));
    if (absl::Status s = run(sql, absl::StrCat("cannot add partition ", name)); !s.ok()) {
      return fail(s);
    }
    result.partitions_added.push_back(name);
  }
  if (!options.grant_role.empty()) {
    const std::string role = Identifier(c, options.grant_role);
    if (role.empty()) return fail(absl::InvalidArgumentError("not a role name"));
    const std::string sql =
        absl::StrCat("GRANT USAGE ON SCHEMA creditd TO ", role, ";\n",
                     "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA creditd TO ", role, ";\n");
    if (absl::Status s = run(sql, absl::StrCat("cannot grant to ", options.grant_role)); !s.ok()) {
      return fail(s);
    }
  }
  absl::StatusOr<Result> id = Exec(c, "SELECT value FROM creditd.log_info WHERE key = 'log_id'",
                                   Params(), "cannot read the log's id");
  if (!id.ok()) return fail(id.status());
  if (PQntuples(id->get()) == 1) result.log_id = Bytes(id->get(), 0, 0);
  if (absl::Status s = run("COMMIT", "cannot commit the schema"); !s.ok()) return fail(s);
  return result;
}

}  // namespace creditd::audit
