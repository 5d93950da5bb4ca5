#include "audit/sqlite_audit.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/decision_json.h"
#include "engine/sha256.h"

namespace creditd::audit {

std::string ContentHash(const AuditRecord& r) {
  engine::Sha256 hash;
  auto add = [&hash](const std::string& field) {
    char length[24];
    const int n = std::snprintf(length, sizeof length, "%zu:", field.size());
    hash.Update(absl::string_view(length, static_cast<size_t>(n)));
    hash.Update(field);
    hash.Update(";");
  };
  for (const std::string* field :
       {&r.decision_id, &r.time, &r.customer_id, &r.request_id, &r.decision, &r.policy_name,
        &r.policy_version, &r.policy_sha256, &r.facts_json, &r.result_json}) {
    add(*field);
  }
  if (r.format >= 3) {
    add(r.kind);
    add(r.caller);
  }
  return hash.HexDigest();
}

std::string LoggedResult(const engine::Decision& decision, int format) {
  engine::JsonOptions json;
  json.pretty = false;
  json.scorecards = format < 2;
  json.trace = false;
  return engine::DecisionToJson(decision, json);
}

std::string ChainHash(const std::string& previous_hash, int64_t sequence,
                      const std::string& content_hash) {
  return engine::Sha256Hex(absl::StrCat(previous_hash, ";", sequence, ";", content_hash));
}

std::string RecordHash(const AuditRecord& r) {
  if (r.format >= 2) return ChainHash(r.previous_hash, r.sequence, ContentHash(r));
  std::string data;
  for (const std::string* field :
       {&r.previous_hash, &r.decision_id, &r.time, &r.customer_id, &r.request_id, &r.decision,
        &r.policy_name, &r.policy_version, &r.policy_sha256, &r.facts_json, &r.result_json}) {
    absl::StrAppend(&data, field->size(), ":", *field, ";");
  }
  absl::StrAppend(&data, r.sequence);
  return engine::Sha256Hex(data);
}

namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS decisions (
  sequence INTEGER PRIMARY KEY,
  decision_id TEXT NOT NULL UNIQUE,
  time TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  decision TEXT NOT NULL,
  policy_name TEXT NOT NULL,
  policy_version TEXT NOT NULL,
  policy_sha256 TEXT NOT NULL,
  facts TEXT NOT NULL,
  result TEXT NOT NULL,
  previous_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'decision',
  caller TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS log_format (
  first_sequence INTEGER PRIMARY KEY,
  format INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS policies (
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  source TEXT NOT NULL
);
)sql";

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("audit log: ", what, ": ", sqlite3_errmsg(db)));
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status =
        absl::UnavailableError(absl::StrCat("audit log: ", error != nullptr ? error : "failed"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

std::string Column(sqlite3_stmt* s, int i) {
  const unsigned char* text = sqlite3_column_text(s, i);
  return text == nullptr ? "" : reinterpret_cast<const char*>(text);
}

AuditRecord RecordFrom(sqlite3_stmt* s) {
  AuditRecord r;
  r.sequence = sqlite3_column_int64(s, 0);
  r.decision_id = Column(s, 1);
  r.time = Column(s, 2);
  r.customer_id = Column(s, 3);
  r.request_id = Column(s, 4);
  r.decision = Column(s, 5);
  r.policy_name = Column(s, 6);
  r.policy_version = Column(s, 7);
  r.policy_sha256 = Column(s, 8);
  r.facts_json = Column(s, 9);
  r.result_json = Column(s, 10);
  r.previous_hash = Column(s, 11);
  r.hash = Column(s, 12);
  r.kind = Column(s, 13);
  r.caller = Column(s, 14);
  return r;
}

// Does the decisions table have `column`? Logs written before format 3 lack
// kind and caller.
bool HasColumn(sqlite3* db, const char* column) {
  sqlite3_stmt* s = nullptr;
  bool found = false;
  if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('decisions')", -1, &s, nullptr) ==
      SQLITE_OK) {
    while (!found && sqlite3_step(s) == SQLITE_ROW) found = Column(s, 0) == column;
  }
  sqlite3_finalize(s);
  return found;
}

// Adds the columns format 3 needs to a log begun in an earlier format; the
// defaults are what the earlier records mean (decisions, no caller known).
absl::Status AddFormat3Columns(sqlite3* db) {
  if (!HasColumn(db, "kind")) {
    if (absl::Status status =
            Exec(db, "ALTER TABLE decisions ADD COLUMN kind TEXT NOT NULL DEFAULT 'decision';");
        !status.ok()) {
      return status;
    }
  }
  if (!HasColumn(db, "caller")) {
    return Exec(db, "ALTER TABLE decisions ADD COLUMN caller TEXT NOT NULL DEFAULT '';");
  }
  return absl::OkStatus();
}

// Which record format applies from which sequence on; a log without the
// table was written entirely in format 1.
std::vector<std::pair<int64_t, int>> LogFormats(sqlite3* db) {
  std::vector<std::pair<int64_t, int>> formats;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT first_sequence, format FROM log_format ORDER BY first_sequence",
                         -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      formats.emplace_back(sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1));
    }
  }
  sqlite3_finalize(s);
  return formats;
}

int FormatOf(const std::vector<std::pair<int64_t, int>>& formats, int64_t sequence) {
  int format = kFirstLogFormat;
  for (const auto& [first, f] : formats) {
    if (first <= sequence) format = f;
  }
  return format;
}

// The columns RecordFrom reads; a log from before format 3, opened read-only,
// has no kind or caller columns and reads them as their defaults.
std::string SelectRecords(sqlite3* db) {
  const bool format3 = HasColumn(db, "kind") && HasColumn(db, "caller");
  return absl::StrCat(
      "SELECT sequence, decision_id, time, customer_id, request_id, decision, policy_name, "
      "policy_version, policy_sha256, facts, result, previous_hash, hash, ",
      format3 ? "kind, caller" : "'decision', ''", " FROM decisions");
}

// Opens read-only; NotFound when the file does not exist.
absl::StatusOr<sqlite3*> OpenReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    absl::Status status = absl::NotFoundError(
        absl::StrCat("cannot open the audit log `", path,
                     "`: ", db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

// ----- the registry of record --------------------------------------------
//
// `versions` binds each name and version to one sha256, forever; the text
// is the `policies` row of that sha256. A row is written in the commit that
// stores the text of a version about to serve, never for a refused load.

constexpr char kVersionsSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS versions (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  canonical_form INTEGER NOT NULL,
  first_served TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
)sql";

bool HasTable(sqlite3* db, const char* table) {
  sqlite3_stmt* s = nullptr;
  bool found = false;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                         &s, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    found = sqlite3_step(s) == SQLITE_ROW;
  }
  sqlite3_finalize(s);
  return found;
}

// A statement that finalizes itself.
struct Statement {
  ~Statement() { sqlite3_finalize(s); }
  sqlite3_stmt* s = nullptr;
};

absl::Status Prepare(sqlite3* db, const std::string& sql, Statement& statement) {
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement.s, nullptr) != SQLITE_OK) {
    return SqlError(db, "cannot read the policy versions");
  }
  return absl::OkStatus();
}

void BindText(sqlite3_stmt* s, int index, const std::string& text) {
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

// The versions the `versions` table binds, each with the text of its
// sha256; none when there is no such table yet. DataLoss when a bound text
// is missing.
absl::StatusOr<std::vector<StoredPolicy>> ReadBindings(sqlite3* db) {
  std::vector<StoredPolicy> bound;
  if (!HasTable(db, "versions")) return bound;
  Statement q;
  if (absl::Status status = Prepare(db,
                                    "SELECT v.name, v.version, v.sha256, v.canonical_form, "
                                    "v.first_served, p.source FROM versions v LEFT JOIN "
                                    "policies p ON p.sha256 = v.sha256 ORDER BY v.name, v.version",
                                    q);
      !status.ok()) {
    return status;
  }
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    StoredPolicy p;
    p.name = Column(q.s, 0);
    p.version = Column(q.s, 1);
    p.sha256 = Column(q.s, 2);
    p.canonical_form = sqlite3_column_int(q.s, 3);
    p.first_served = Column(q.s, 4);
    if (sqlite3_column_type(q.s, 5) == SQLITE_NULL) {
      return absl::DataLossError(absl::StrCat("audit log: version ", p.version, " of `", p.name,
                                              "` is bound to sha256 ", p.sha256,
                                              ", whose text the log does not hold"));
    }
    p.source = Column(q.s, 5);
    bound.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) return SqlError(db, "cannot read the policy versions");
  return bound;
}

// The bindings a log written before the `versions` table implies. Such a
// log may hold several texts for one version (an earlier creditd stored the
// text of every load, refused ones too): the version is bound to the text of
// its earliest record, the lowest sequence of either a decision made with it
// or an accepted reload that served it, and was first served at that
// record's time. A version no record shows served stays unbound: no
// decision refers to its texts.
absl::StatusOr<std::vector<StoredPolicy>> EarliestBindings(sqlite3* db) {
  // Every stored text, by name and version.
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> texts;
  {
    Statement q;
    if (absl::Status status = Prepare(db, "SELECT name, version, sha256, source FROM policies", q);
        !status.ok()) {
      return status;
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
      texts[{Column(q.s, 0), Column(q.s, 1)}][Column(q.s, 2)] = Column(q.s, 3);
    }
    if (rc != SQLITE_DONE) return SqlError(db, "cannot read the stored policies");
  }
  // Logs from before format 3 hold decisions only.
  const bool kinds = HasColumn(db, "kind");
  std::vector<StoredPolicy> bindings;
  for (const auto& [key, by_sha] : texts) {
    int64_t earliest = 0;
    StoredPolicy binding;
    auto consider = [&](int64_t sequence, const std::string& sha256, const std::string& time) {
      if (earliest != 0 && earliest <= sequence) return;
      earliest = sequence;
      binding.sha256 = sha256;
      binding.first_served = time;
    };
    Statement decisions;
    if (absl::Status status = Prepare(
            db,
            absl::StrCat("SELECT sequence, policy_sha256, time FROM decisions WHERE policy_name = "
                         "?1 AND policy_version = ?2",
                         kinds ? " AND kind = 'decision'" : "", " ORDER BY sequence"),
            decisions);
        !status.ok()) {
      return status;
    }
    BindText(decisions.s, 1, key.first);
    BindText(decisions.s, 2, key.second);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(decisions.s)) == SQLITE_ROW) {
      const std::string sha256 = Column(decisions.s, 1);
      if (by_sha.count(sha256) == 0) continue;  // a text the log lost: no binding to it
      consider(sqlite3_column_int64(decisions.s, 0), sha256, Column(decisions.s, 2));
      break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db, "cannot read the decisions");
    for (auto it = by_sha.begin(); kinds && it != by_sha.end(); ++it) {
      const std::string& sha256 = it->first;
      Statement reloads;
      if (absl::Status status = Prepare(db,
                                        "SELECT sequence, time FROM decisions WHERE kind = "
                                        "'reload' AND instr(result, ?1) > 0 ORDER BY sequence "
                                        "LIMIT 1",
                                        reloads);
          !status.ok()) {
        return status;
      }
      BindText(reloads.s, 1, absl::StrCat("\"sha256\": \"", sha256, "\""));
      rc = sqlite3_step(reloads.s);
      if (rc == SQLITE_ROW) {
        consider(sqlite3_column_int64(reloads.s, 0), sha256, Column(reloads.s, 1));
      } else if (rc != SQLITE_DONE) {
        return SqlError(db, "cannot read the reloads");
      }
    }
    if (earliest == 0) continue;
    binding.name = key.first;
    binding.version = key.second;
    binding.source = by_sha.at(binding.sha256);
    binding.canonical_form = 1;  // the only form before forms were recorded
    bindings.push_back(std::move(binding));
  }
  return bindings;
}

// Binds `name` and `version` to `sha256`, unless they are bound already:
// then FailedPrecondition if to another sha256. Inside the caller's
// transaction.
absl::Status InsertBinding(sqlite3* db, const std::string& name, const std::string& version,
                           const std::string& sha256, int canonical_form,
                           const std::string& first_served) {
  Statement insert;
  if (sqlite3_prepare_v2(db,
                         "INSERT OR IGNORE INTO versions (name, version, sha256, canonical_form, "
                         "first_served) VALUES (?, ?, ?, ?, ?)",
                         -1, &insert.s, nullptr) != SQLITE_OK) {
    return SqlError(db, "cannot bind a policy version");
  }
  BindText(insert.s, 1, name);
  BindText(insert.s, 2, version);
  BindText(insert.s, 3, sha256);
  sqlite3_bind_int(insert.s, 4, canonical_form);
  BindText(insert.s, 5, first_served);
  if (sqlite3_step(insert.s) != SQLITE_DONE) return SqlError(db, "cannot bind a policy version");
  if (sqlite3_changes(db) > 0) return absl::OkStatus();
  Statement bound;
  if (sqlite3_prepare_v2(db, "SELECT sha256 FROM versions WHERE name = ? AND version = ?", -1,
                         &bound.s, nullptr) != SQLITE_OK) {
    return SqlError(db, "cannot bind a policy version");
  }
  BindText(bound.s, 1, name);
  BindText(bound.s, 2, version);
  if (sqlite3_step(bound.s) != SQLITE_ROW) return SqlError(db, "cannot bind a policy version");
  if (Column(bound.s, 0) == sha256) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("audit log: version ", version, " of `", name,
                                                    "` is bound to sha256 ", Column(bound.s, 0),
                                                    ", not ", sha256));
}

// Creates the `versions` table and, in a log from before it, binds what
// EarliestBindings says, in one transaction: a log is migrated once, whole
// or not at all. From then on StorePolicy binds every version it stores.
// Records are untouched: every earlier format verifies and replays as
// before.
absl::Status MigrateVersions(sqlite3* db) {
  if (HasTable(db, "versions")) return absl::OkStatus();
  if (absl::Status status = Exec(db, "BEGIN IMMEDIATE;"); !status.ok()) return status;
  absl::Status status = Exec(db, kVersionsSchema);
  absl::StatusOr<std::vector<StoredPolicy>> bindings =
      status.ok() ? EarliestBindings(db) : absl::StatusOr<std::vector<StoredPolicy>>(status);
  status = bindings.status();
  for (size_t i = 0; status.ok() && i < bindings->size(); ++i) {
    const StoredPolicy& p = (*bindings)[i];
    status = InsertBinding(db, p.name, p.version, p.sha256, p.canonical_form, p.first_served);
  }
  if (status.ok()) status = Exec(db, "COMMIT;");
  if (!status.ok()) (void)Exec(db, "ROLLBACK;");
  return status;
}

std::string LogTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteAuditSink>> SqliteAuditSink::Open(
    const std::string& path, const SqliteOptions& options) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    absl::Status status = SqlError(db, absl::StrCat("cannot open `", path, "`"));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  // Checkpoints run on their own thread and connection (below), not inside
  // the writer's commits.
  for (const char* sql : {"PRAGMA journal_mode=WAL;", "PRAGMA wal_autocheckpoint=0;", kSchema}) {
    if (absl::Status status = Exec(db, sql); !status.ok()) {
      sqlite3_close(db);
      return status;
    }
  }
  if (absl::Status status = AddFormat3Columns(db); !status.ok()) {
    sqlite3_close(db);
    return status;
  }
  if (absl::Status status = MigrateVersions(db); !status.ok()) {
    sqlite3_close(db);
    return status;
  }
  if (absl::Status status =
          Exec(db, options.durability == Durability::kDurable ? "PRAGMA synchronous=FULL;"
                                                              : "PRAGMA synchronous=NORMAL;");
      !status.ok()) {
    sqlite3_close(db);
    return status;
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v3(db,
                         "INSERT INTO decisions (sequence, decision_id, time, customer_id, "
                         "request_id, decision, policy_name, policy_version, policy_sha256, "
                         "facts, result, previous_hash, hash, kind, caller) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr) != SQLITE_OK) {
    absl::Status status = SqlError(db, "cannot prepare the insert");
    sqlite3_close(db);
    return status;
  }
  auto sink = std::unique_ptr<SqliteAuditSink>(new SqliteAuditSink(db, insert, options));
  absl::StatusOr<std::vector<StoredPolicy>> bound = ReadBindings(db);
  if (!bound.ok()) return bound.status();
  for (StoredPolicy& p : *bound) sink->bound_.emplace(std::make_pair(p.name, p.version), p);
  // Continue the chain from the last record.
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT sequence, hash FROM decisions ORDER BY sequence DESC LIMIT 1",
                         -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    sink->last_sequence_ = sqlite3_column_int64(s, 0);
    sink->last_hash_ = Column(s, 1);
  }
  sqlite3_finalize(s);
  // Records from here on are in the current format; say so once.
  const std::vector<std::pair<int64_t, int>> formats = LogFormats(db);
  if (formats.empty() || formats.back().second != kLogFormat) {
    const std::string sql =
        absl::StrCat("INSERT OR REPLACE INTO log_format (first_sequence, format) VALUES (",
                     sink->last_sequence_ + 1, ", ", kLogFormat, ");");
    if (absl::Status status = Exec(db, sql.c_str()); !status.ok()) return status;
  }
  // The checkpointer's connection. Without one the log still works; its WAL
  // is then checkpointed by the writer when it grows past the hard limit.
  if (sqlite3_open_v2(path.c_str(), &sink->checkpoint_db_, SQLITE_OPEN_READWRITE, nullptr) ==
      SQLITE_OK) {
    sqlite3_busy_timeout(sink->checkpoint_db_, 5000);
    (void)Exec(sink->checkpoint_db_, "PRAGMA synchronous=FULL;");
    sink->checkpointer_ = std::thread([raw = sink.get()] { raw->Checkpoint(); });
  } else {
    sqlite3_close(sink->checkpoint_db_);
    sink->checkpoint_db_ = nullptr;
  }
  sqlite3_wal_hook(db, &SqliteAuditSink::OnWalCommit, sink.get());
  sink->writer_ = std::thread([raw = sink.get()] { raw->Run(); });
  sink->notifier_ = std::thread([raw = sink.get()] { raw->Notify(); });
  return sink;
}

int SqliteAuditSink::OnWalCommit(void* sink_arg, sqlite3* db, const char* /*schema*/, int pages) {
  auto* sink = static_cast<SqliteAuditSink*>(sink_arg);
  const bool checkpointer = sink->checkpoint_db_ != nullptr;
  if (pages >= (checkpointer ? kWalRestartPages : kWalCheckpointPages)) {
    // The checkpointer has not kept the WAL short (or there is none): copy
    // what is left and start the WAL over, here, before the next commit.
    (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  } else if (checkpointer && pages >= kWalCheckpointPages) {
    std::lock_guard<std::mutex> lock(sink->checkpoint_mutex_);
    sink->checkpoint_wanted_ = true;
    sink->checkpoint_wake_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteAuditSink::Checkpoint() {
  std::unique_lock<std::mutex> lock(checkpoint_mutex_);
  while (true) {
    // Also once a second, so a quiet log's WAL is folded in too.
    checkpoint_wake_.wait_for(lock, std::chrono::seconds(1),
                              [&] { return checkpoint_stopping_ || checkpoint_wanted_; });
    if (checkpoint_stopping_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // Passive: copies committed pages into the database without holding up
    // the writer; a failure (a full disk) leaves the WAL as it was.
    (void)sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                    nullptr);
    lock.lock();
  }
}

SqliteAuditSink::SqliteAuditSink(sqlite3* db, sqlite3_stmt* insert, const SqliteOptions& options)
    : db_(db), insert_(insert), options_(options) {}

SqliteAuditSink::~SqliteAuditSink() {
  (void)Flush();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  if (writer_.joinable()) writer_.join();
  // The notifier drains every group left before it stops. (Callbacks must not
  // append: the writer is gone.)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    notifier_stopping_ = true;
  }
  notice_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  {
    std::lock_guard<std::mutex> lock(checkpoint_mutex_);
    checkpoint_stopping_ = true;
  }
  checkpoint_wake_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  sqlite3_close(checkpoint_db_);
  sqlite3_finalize(insert_);
  sqlite3_close(db_);
}

void SqliteAuditSink::SetFaultForTesting(std::function<absl::Status()> fault) {
  std::lock_guard<std::mutex> lock(mutex_);
  fault_ = std::move(fault);
}

absl::Status SqliteAuditSink::StorePolicy(const engine::CompiledPolicy& policy) {
  // The source goes in with the next batch the writer commits, so a record
  // is never committed without its policy's text; until a batch commits
  // (while the log cannot be written) it stays queued.
  auto marker = std::make_shared<Pending>();
  marker->policy_only = true;
  std::unique_lock<std::mutex> lock(mutex_);
  const engine::PolicyId& id = policy.id();
  // A version names one text forever: checked against what is bound and
  // what waits to be.
  std::string bound_to;
  if (auto it = bound_.find({id.name, id.version}); it != bound_.end()) {
    if (it->second.sha256 == id.sha256) return absl::OkStatus();
    bound_to = it->second.sha256;
  }
  for (const PolicySource& p : policies_) {
    if (p.name == id.name && p.version == id.version && p.sha256 != id.sha256) bound_to = p.sha256;
  }
  if (!bound_to.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log: version ", id.version, " of `", id.name, "` is bound to sha256 ",
                     bound_to, "; a version names one text forever, not also ", id.sha256));
  }
  if (std::none_of(policies_.begin(), policies_.end(),
                   [&](const PolicySource& p) { return p.sha256 == id.sha256; })) {
    policies_.push_back({id.sha256, id.name, id.version, policy.canonical_source(),
                         policy.canonical_form(), LogTime(absl::Now())});
  }
  queue_.push_back(marker);
  work_.notify_one();
  done_.wait(lock, [&] { return marker->done; });
  return marker->status;
}

absl::StatusOr<std::vector<StoredPolicy>> SqliteAuditSink::StoredVersions() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StoredPolicy> stored;
  stored.reserve(bound_.size());
  for (const auto& [key, policy] : bound_) stored.push_back(policy);
  return stored;
}

void SqliteAuditSink::NoteBound(const std::vector<PolicySource>& policies) {
  for (const PolicySource& p : policies) {
    bound_.emplace(
        std::make_pair(p.name, p.version),
        StoredPolicy{p.name, p.version, p.sha256, p.source, p.canonical_form, p.first_served});
  }
}

absl::Status SqliteAuditSink::Append(AuditRecord record) {
  auto pending = std::make_shared<Pending>();
  pending->content_hash = ContentHash(record);
  pending->record = std::move(record);
  std::unique_lock<std::mutex> lock(mutex_);
  if (queue_.size() >= options_.max_pending) return QueueFull();
  if (options_.durability == Durability::kAsync) {
    queue_.push_back(std::move(pending));
    work_.notify_one();
    return absl::OkStatus();
  }
  queue_.push_back(pending);
  work_.notify_one();
  done_.wait(lock, [&] { return pending->done; });
  return pending->status;
}

void SqliteAuditSink::AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) {
  if (options_.durability == Durability::kAsync) {
    done(Append(std::move(record)));
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->content_hash = ContentHash(record);
  pending->record = std::move(record);
  std::unique_lock<std::mutex> lock(mutex_);
  if (queue_.size() >= options_.max_pending) {
    lock.unlock();
    done(QueueFull());
    return;
  }
  pending->callback = std::move(done);
  queue_.push_back(std::move(pending));
  work_.notify_one();
}

absl::Status SqliteAuditSink::QueueFull() const {
  return absl::UnavailableError(absl::StrCat("audit log: ", options_.max_pending,
                                             " records are waiting to be written; the log cannot "
                                             "keep up or cannot be written"));
}

absl::Status SqliteAuditSink::Flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return (queue_.empty() && in_flight_ == 0) || failing_; });
  return failing_ ? absl::UnavailableError("audit log: records are waiting to be written")
                  : absl::OkStatus();
}

void SqliteAuditSink::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    std::vector<std::shared_ptr<Pending>> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ = batch.size();
    std::function<absl::Status()> fault = fault_;
    const std::vector<PolicySource> policies = policies_;
    lock.unlock();
    absl::Status status = fault ? fault() : absl::OkStatus();
    if (status.ok()) status = Commit(policies, batch);
    lock.lock();
    if (status.ok()) {
      NoteBound(policies);
      policies_.erase(policies_.begin(), policies_.begin() + policies.size());
    }
    in_flight_ = 0;
    failing_ = !status.ok();
    if (!status.ok() && options_.durability == Durability::kAsync) {
      // Nobody is waiting for the records: keep them and try again
      // shortly. Every StorePolicy waiting, however deep in the queue, hears
      // of the failure now; the sources stay queued for the next commit.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(*it);
      for (auto it = queue_.begin(); it != queue_.end();) {
        if ((*it)->policy_only) {
          (*it)->done = true;
          (*it)->status = status;
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      done_.notify_all();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      lock.lock();
      if (stopping_) return;
      continue;
    }
    for (const auto& p : batch) {
      p->done = true;
      p->status = status;
    }
    done_.notify_all();
    if (queue_.empty() && notices_.empty() && !notifying_) {
      // Nothing waits to be committed: answer from here and save a thread
      // hand-off (commit order holds, the notifier has nothing older).
      lock.unlock();
      for (const auto& p : batch) {
        if (p->callback) p->callback(status);
      }
      batch.clear();
      lock.lock();
      continue;
    }
    // Otherwise the notifier answers while the next group commits.
    notices_.push_back({std::move(batch), status});
    notice_.notify_one();
  }
}

void SqliteAuditSink::Notify() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    notice_.wait(lock, [&] { return notifier_stopping_ || !notices_.empty(); });
    if (notices_.empty()) return;
    Notice notice = std::move(notices_.front());
    notices_.pop_front();
    notifying_ = true;
    // Without the lock: callbacks may start more work.
    lock.unlock();
    for (const auto& p : notice.batch) {
      if (p->callback) p->callback(notice.status);
    }
    notice.batch.clear();
    lock.lock();
    notifying_ = false;
  }
}

absl::Status SqliteAuditSink::Commit(const std::vector<PolicySource>& policies,
                                     std::vector<std::shared_ptr<Pending>>& batch) {
  if (absl::Status status = Exec(db_, "BEGIN IMMEDIATE;"); !status.ok()) return status;
  int64_t sequence = last_sequence_;
  std::string hash = last_hash_;
  absl::Status status;
  for (const PolicySource& policy : policies) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR IGNORE INTO policies (sha256, name, version, source) "
                           "VALUES (?, ?, ?, ?)",
                           -1, &s, nullptr) != SQLITE_OK) {
      status = SqlError(db_, "cannot store a policy");
      break;
    }
    const std::string* fields[] = {&policy.sha256, &policy.name, &policy.version, &policy.source};
    for (int i = 0; i < 4; ++i) {
      sqlite3_bind_text(s, i + 1, fields[i]->data(), static_cast<int>(fields[i]->size()),
                        SQLITE_STATIC);
    }
    const int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
      status = SqlError(db_, "cannot store a policy");
      break;
    }
    status = InsertBinding(db_, policy.name, policy.version, policy.sha256, policy.canonical_form,
                           policy.first_served);
    if (!status.ok()) break;
  }
  for (const auto& p : batch) {
    if (!status.ok()) break;
    if (p->policy_only) continue;
    AuditRecord& r = p->record;
    r.sequence = ++sequence;
    r.previous_hash = hash;
    r.hash = ChainHash(r.previous_hash, r.sequence, p->content_hash);
    hash = r.hash;
    const std::string* fields[] = {
        &r.decision_id,   &r.time,           &r.customer_id,   &r.request_id, &r.decision,
        &r.policy_name,   &r.policy_version, &r.policy_sha256, &r.facts_json, &r.result_json,
        &r.previous_hash, &r.hash,           &r.kind,          &r.caller};
    sqlite3_reset(insert_);
    sqlite3_bind_int64(insert_, 1, r.sequence);
    for (int i = 0; i < 14; ++i) {
      sqlite3_bind_text(insert_, i + 2, fields[i]->data(), static_cast<int>(fields[i]->size()),
                        SQLITE_STATIC);
    }
    if (sqlite3_step(insert_) != SQLITE_DONE) {
      status = SqlError(db_, "cannot write");
      break;
    }
  }
  sqlite3_reset(insert_);
  sqlite3_clear_bindings(insert_);
  if (status.ok()) status = Exec(db_, "COMMIT;");
  if (!status.ok()) {
    (void)Exec(db_, "ROLLBACK;");
    return status;
  }
  last_sequence_ = sequence;
  last_hash_ = hash;
  return absl::OkStatus();
}

absl::Status ForEachRecord(const std::string& path,
                           const std::function<bool(const AuditRecord&)>& visit) {
  absl::StatusOr<sqlite3*> db = OpenReadOnly(path);
  if (!db.ok()) return db.status();
  sqlite3_stmt* s = nullptr;
  const std::string sql = absl::StrCat(SelectRecords(*db), " ORDER BY sequence");
  if (sqlite3_prepare_v2(*db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    absl::Status status = SqlError(*db, "cannot read");
    sqlite3_close(*db);
    return status;
  }
  const std::vector<std::pair<int64_t, int>> formats = LogFormats(*db);
  while (sqlite3_step(s) == SQLITE_ROW) {
    AuditRecord record = RecordFrom(s);
    record.format = FormatOf(formats, record.sequence);
    if (!visit(record)) break;
  }
  sqlite3_finalize(s);
  sqlite3_close(*db);
  return absl::OkStatus();
}

absl::StatusOr<VerifyResult> VerifyLog(const std::string& path) {
  VerifyResult result;
  std::string previous;
  absl::Status status = ForEachRecord(path, [&](const AuditRecord& r) {
    ++result.records;
    if (r.sequence != result.records) {
      result.problem = absl::StrCat("expected record ", result.records, ", found ", r.sequence,
                                    " (records missing)");
    } else if (r.previous_hash != previous) {
      result.problem = "its previous hash does not match the record before it";
    } else if (RecordHash(r) != r.hash) {
      result.problem = "its content does not match its hash (changed after it was written)";
    }
    if (!result.problem.empty()) {
      result.ok = false;
      result.first_broken = r.sequence;
      return false;
    }
    previous = r.hash;
    return true;
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::optional<AuditRecord>> ReadRecord(const std::string& path,
                                                      const std::string& decision_id) {
  absl::StatusOr<sqlite3*> db = OpenReadOnly(path);
  if (!db.ok()) return db.status();
  sqlite3_stmt* s = nullptr;
  const std::string sql = absl::StrCat(SelectRecords(*db), " WHERE decision_id = ?");
  std::optional<AuditRecord> record;
  if (sqlite3_prepare_v2(*db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, decision_id.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) {
      record = RecordFrom(s);
      record->format = FormatOf(LogFormats(*db), record->sequence);
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(*db);
  return record;
}

absl::StatusOr<std::string> ReadPolicySource(const std::string& path, const std::string& sha256) {
  absl::StatusOr<sqlite3*> db = OpenReadOnly(path);
  if (!db.ok()) return db.status();
  sqlite3_stmt* s = nullptr;
  std::optional<std::string> source;
  if (sqlite3_prepare_v2(*db, "SELECT source FROM policies WHERE sha256 = ?", -1, &s, nullptr) ==
      SQLITE_OK) {
    sqlite3_bind_text(s, 1, sha256.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) source = Column(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(*db);
  if (!source) return absl::NotFoundError(absl::StrCat("no policy source for sha256 ", sha256));
  return *source;
}

absl::StatusOr<std::vector<StoredPolicy>> ReadStoredVersions(const std::string& path) {
  absl::StatusOr<sqlite3*> db = OpenReadOnly(path);
  if (!db.ok()) return db.status();
  // Not migrated yet: read as it will be once opened.
  absl::StatusOr<std::vector<StoredPolicy>> stored =
      HasTable(*db, "versions") ? ReadBindings(*db) : EarliestBindings(*db);
  sqlite3_close(*db);
  return stored;
}

}  // namespace creditd::audit
