#include "audit/sqlite_store.h"

#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/log_location.h"
#include "audit/pg_read.h"
#include "crypto/sha256.h"

namespace creditd::audit {
namespace {

// How long an open waits for a lock another connection holds. A creditd
// holds its log's lock for as long as it runs, so waiting longer would not
// help.
constexpr int kOpenBusyMs = 1000;

constexpr char kChainId[] = "main";

constexpr char kOtherTables[] = R"sql(
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
CREATE TABLE IF NOT EXISTS log_info (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

// The decisions table, from the field table.
std::string DecisionsTable() {
  std::string sql = "CREATE TABLE IF NOT EXISTS decisions (\n  sequence INTEGER PRIMARY KEY";
  for (const RecordField& field : kRecordFields) {
    absl::StrAppend(&sql, ",\n  ", field.column, " TEXT NOT NULL", field.unique ? " UNIQUE" : "",
                    field.default_sql != nullptr ? " DEFAULT " : "",
                    field.default_sql != nullptr ? field.default_sql : "");
  }
  absl::StrAppend(&sql, ",\n  previous_hash TEXT NOT NULL,\n  hash TEXT NOT NULL\n);");
  return sql;
}

std::string InsertSql() {
  std::vector<std::string> columns = {"sequence"};
  for (const RecordField& field : kRecordFields) columns.push_back(field.column);
  columns.push_back("previous_hash");
  columns.push_back("hash");
  std::vector<std::string> marks(columns.size(), "?");
  return absl::StrCat("INSERT INTO decisions (", absl::StrJoin(columns, ", "), ") VALUES (",
                      absl::StrJoin(marks, ", "), ")");
}

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("audit log: ", what, ": ",
                                             db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

bool Busy(sqlite3* db) {
  const int code = sqlite3_errcode(db);
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
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

// A column byte for byte, text or BLOB, NUL bytes included.
std::string Text(sqlite3_stmt* s, int i) {
  const void* data = sqlite3_column_blob(s, i);
  const int size = sqlite3_column_bytes(s, i);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

void BindText(sqlite3_stmt* s, int i, const std::string& text) {
  sqlite3_bind_text64(s, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

// Bytes that are not text: a BLOB, so that readers hand them over as bytes
// rather than decode them as UTF-8.
void BindBytes(sqlite3_stmt* s, int i, const std::string& bytes) {
  sqlite3_bind_blob64(s, i, bytes.data(), bytes.size(), SQLITE_STATIC);
}

// A statement, finalized when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr);
  }
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return s_; }
  // The error of the last step (or of preparing), for a step that neither
  // gave a row nor finished.
  absl::Status Error(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

absl::StatusOr<bool> HasColumn(sqlite3* db, const char* column) {
  Statement s(db, "SELECT name FROM pragma_table_info('decisions')");
  if (!s.ok()) return s.Error("cannot read the log's columns");
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    if (Text(s.get(), 0) == column) return true;
  }
  if (rc != SQLITE_DONE) return s.Error("cannot read the log's columns");
  return false;
}

// Which record format applies from which sequence on; a log without the
// table was written entirely in format 1.
absl::StatusOr<std::vector<std::pair<int64_t, int>>> LogFormats(sqlite3* db) {
  std::vector<std::pair<int64_t, int>> formats;
  Statement exists(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_format'");
  if (!exists.ok()) return exists.Error("cannot read the log's formats");
  const int found = sqlite3_step(exists.get());
  if (found == SQLITE_DONE) return formats;
  if (found != SQLITE_ROW) return exists.Error("cannot read the log's formats");
  Statement s(db, "SELECT first_sequence, format FROM log_format ORDER BY first_sequence");
  if (!s.ok()) return s.Error("cannot read the log's formats");
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    formats.emplace_back(sqlite3_column_int64(s.get(), 0), sqlite3_column_int(s.get(), 1));
  }
  if (rc != SQLITE_DONE) return s.Error("cannot read the log's formats");
  return formats;
}

// Adds the columns of fields newer than the log, with the defaults that
// say what the earlier records mean (decisions, no caller known).
absl::Status AddMissingColumns(sqlite3* db) {
  for (const RecordField& field : kRecordFields) {
    if (field.default_sql == nullptr) continue;
    absl::StatusOr<bool> has = HasColumn(db, field.column);
    if (!has.ok()) return has.status();
    if (*has) continue;
    const std::string sql = absl::StrCat("ALTER TABLE decisions ADD COLUMN ", field.column,
                                         " TEXT NOT NULL DEFAULT ", field.default_sql, ";");
    if (absl::Status status = Exec(db, sql.c_str()); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> InfoValue(sqlite3* db, const char* key) {
  Statement exists(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_info'");
  if (!exists.ok()) return exists.Error("cannot read the log's identity");
  const int found = sqlite3_step(exists.get());
  if (found == SQLITE_DONE) return std::optional<std::string>();
  if (found != SQLITE_ROW) return exists.Error("cannot read the log's identity");
  Statement s(db, "SELECT value FROM log_info WHERE key = ?");
  if (!s.ok()) return s.Error("cannot read the log's identity");
  sqlite3_bind_text(s.get(), 1, key, -1, SQLITE_STATIC);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return std::optional<std::string>(Text(s.get(), 0));
  if (rc != SQLITE_DONE) return s.Error("cannot read the log's identity");
  return std::optional<std::string>();
}

// The log's identity, made on first open.
absl::StatusOr<LogIdentity> EnsureIdentity(sqlite3* db) {
  absl::StatusOr<std::optional<std::string>> id = InfoValue(db, "log_id");
  if (!id.ok()) return id.status();
  LogIdentity identity;
  identity.chain_id = kChainId;
  if (id->has_value()) {
    identity.log_id = **id;
    return identity;
  }
  absl::StatusOr<std::string> made = NewLogId();
  if (!made.ok()) return made.status();
  identity.log_id = *made;
  const std::string sql =
      absl::StrCat("INSERT INTO log_info (key, value) VALUES ('log_id', '", identity.log_id,
                   "'), ('chain_id', '", identity.chain_id, "');");
  if (absl::Status status = Exec(db, sql.c_str()); !status.ok()) return status;
  return identity;
}

// ----- the registry of record ---------------------------------------------
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

absl::StatusOr<bool> HasTable(sqlite3* db, const char* table) {
  Statement s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  if (!s.ok()) return s.Error("cannot read the log's tables");
  sqlite3_bind_text(s.get(), 1, table, -1, SQLITE_STATIC);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) return s.Error("cannot read the log's tables");
  return false;
}

// The versions the `versions` table binds, each with the text of its
// sha256. DataLoss when a bound text is missing.
absl::StatusOr<std::vector<StoredPolicy>> ReadBindings(sqlite3* db) {
  std::vector<StoredPolicy> bound;
  Statement q(db,
              "SELECT v.name, v.version, v.sha256, v.canonical_form, v.first_served, p.source "
              "FROM versions v LEFT JOIN policies p ON p.sha256 = v.sha256 "
              "ORDER BY v.name, v.version");
  if (!q.ok()) return q.Error("audit log: cannot read the policy versions");
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    StoredPolicy p;
    p.name = Text(q.get(), 0);
    p.version = Text(q.get(), 1);
    p.sha256 = Text(q.get(), 2);
    p.canonical_form = sqlite3_column_int(q.get(), 3);
    p.first_served = Text(q.get(), 4);
    if (sqlite3_column_type(q.get(), 5) == SQLITE_NULL) {
      return absl::DataLossError(absl::StrCat("audit log: version ", p.version, " of `", p.name,
                                              "` is bound to sha256 ", p.sha256,
                                              ", whose text the log does not hold"));
    }
    p.source = Text(q.get(), 5);
    // The stored sha256 is taken as stored, never recomputed from a new
    // form; so the text must be the one it was stored under.
    if (crypto::Sha256Hex(p.source) != p.sha256) {
      return absl::DataLossError(absl::StrCat("audit log: the stored text of version ", p.version,
                                              " of `", p.name, "` does not hash to its sha256 ",
                                              p.sha256, " (changed after it was stored)"));
    }
    bound.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) return q.Error("audit log: cannot read the policy versions");
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
    Statement q(db, "SELECT name, version, sha256, source FROM policies");
    if (!q.ok()) return q.Error("audit log: cannot read the stored policies");
    int rc;
    while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
      texts[{Text(q.get(), 0), Text(q.get(), 1)}][Text(q.get(), 2)] = Text(q.get(), 3);
    }
    if (rc != SQLITE_DONE) return q.Error("audit log: cannot read the stored policies");
  }
  // Logs from before format 3 hold decisions only.
  absl::StatusOr<bool> kinds = HasColumn(db, "kind");
  if (!kinds.ok()) return kinds.status();
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
    Statement decisions(
        db, absl::StrCat("SELECT sequence, policy_sha256, time FROM decisions WHERE policy_name = "
                         "?1 AND policy_version = ?2",
                         *kinds ? " AND kind = 'decision'" : "", " ORDER BY sequence"));
    if (!decisions.ok()) return decisions.Error("audit log: cannot read the decisions");
    BindText(decisions.get(), 1, key.first);
    BindText(decisions.get(), 2, key.second);
    int rc;
    while ((rc = sqlite3_step(decisions.get())) == SQLITE_ROW) {
      const std::string sha256 = Text(decisions.get(), 1);
      if (by_sha.count(sha256) == 0) continue;  // a text the log lost: no binding to it
      consider(sqlite3_column_int64(decisions.get(), 0), sha256, Text(decisions.get(), 2));
      break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return decisions.Error("audit log: cannot read the decisions");
    }
    for (auto it = by_sha.begin(); *kinds && it != by_sha.end(); ++it) {
      const std::string& sha256 = it->first;
      Statement reloads(db,
                        "SELECT sequence, time FROM decisions WHERE kind = 'reload' AND "
                        "instr(result, ?1) > 0 ORDER BY sequence LIMIT 1");
      if (!reloads.ok()) return reloads.Error("audit log: cannot read the reloads");
      const std::string needle = absl::StrCat("\"sha256\": \"", sha256, "\"");
      BindText(reloads.get(), 1, needle);
      rc = sqlite3_step(reloads.get());
      if (rc == SQLITE_ROW) {
        consider(sqlite3_column_int64(reloads.get(), 0), sha256, Text(reloads.get(), 1));
      } else if (rc != SQLITE_DONE) {
        return reloads.Error("audit log: cannot read the reloads");
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
  Statement insert(db,
                   "INSERT OR IGNORE INTO versions (name, version, sha256, canonical_form, "
                   "first_served) VALUES (?, ?, ?, ?, ?)");
  if (!insert.ok()) return SqlError(db, "cannot bind a policy version");
  BindText(insert.get(), 1, name);
  BindText(insert.get(), 2, version);
  BindText(insert.get(), 3, sha256);
  sqlite3_bind_int(insert.get(), 4, canonical_form);
  BindText(insert.get(), 5, first_served);
  if (sqlite3_step(insert.get()) != SQLITE_DONE)
    return SqlError(db, "cannot bind a policy version");
  if (sqlite3_changes(db) > 0) return absl::OkStatus();
  Statement bound(db, "SELECT sha256 FROM versions WHERE name = ? AND version = ?");
  if (!bound.ok()) return SqlError(db, "cannot bind a policy version");
  BindText(bound.get(), 1, name);
  BindText(bound.get(), 2, version);
  if (sqlite3_step(bound.get()) != SQLITE_ROW) return SqlError(db, "cannot bind a policy version");
  if (Text(bound.get(), 0) == sha256) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("audit log: version ", version, " of `", name,
                                                    "` is bound to sha256 ", Text(bound.get(), 0),
                                                    ", not ", sha256));
}

// Creates the `versions` table and, in a log from before it, binds what
// EarliestBindings says, in one transaction: a log is migrated once, whole
// or not at all. From then on every stored policy is bound. Records are
// untouched: every earlier format verifies and replays as before.
absl::Status MigrateVersions(sqlite3* db) {
  absl::StatusOr<bool> has = HasTable(db, "versions");
  if (!has.ok()) return has.status();
  if (*has) return absl::OkStatus();
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

// Opens read-only; NotFound when the file does not exist, FailedPrecondition
// when a running creditd holds it. `flags` may add SQLITE_OPEN_NOMUTEX for a
// connection only one thread at a time uses.
absl::StatusOr<sqlite3*> OpenReadOnly(const std::string& location, int flags = 0) {
  const std::string path = SqlitePathOf(location);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | flags, nullptr) != SQLITE_OK) {
    absl::Status status = absl::NotFoundError(
        absl::StrCat("cannot open the audit log `", path,
                     "`: ", db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, kOpenBusyMs);
  // Read something now, so a lock held elsewhere is told apart from the
  // reads that follow failing.
  char* error = nullptr;
  if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_master;", nullptr, nullptr, &error) !=
      SQLITE_OK) {
    absl::Status status =
        Busy(db) ? absl::FailedPreconditionError(absl::StrCat(
                       "the audit log `", path,
                       "` is held by the creditd writing it; read a snapshot instead: send that "
                       "creditd SIGUSR1 and read `",
                       path, ".snapshot` when it logs the snapshot written"))
                 : absl::DataLossError(absl::StrCat("cannot read the audit log `", path,
                                                    "`: ", error != nullptr ? error : "failed"));
    sqlite3_free(error);
    sqlite3_close(db);
    return status;
  }
  return db;
}

// A read-only connection, closed when it goes out of scope.
class Reader {
 public:
  static absl::StatusOr<Reader> Open(const std::string& path) {
    absl::StatusOr<sqlite3*> db = OpenReadOnly(path);
    if (!db.ok()) return db.status();
    return Reader(*db);
  }
  Reader(Reader&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  ~Reader() { sqlite3_close(db_); }
  sqlite3* get() const { return db_; }

 private:
  explicit Reader(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// The columns RecordFrom reads; a log from before a field was added, opened
// read-only, has no column for it and reads the field's default.
absl::StatusOr<std::string> SelectRecords(sqlite3* db) {
  std::vector<std::string> columns = {"sequence"};
  for (const RecordField& field : kRecordFields) {
    absl::StatusOr<bool> has = HasColumn(db, field.column);
    if (!has.ok()) return has.status();
    columns.push_back(*has || field.default_sql == nullptr ? field.column : field.default_sql);
  }
  columns.push_back("previous_hash");
  columns.push_back("hash");
  return absl::StrCat("SELECT ", absl::StrJoin(columns, ", "), " FROM decisions");
}

AuditRecord RecordFrom(sqlite3_stmt* s) {
  AuditRecord r;
  r.sequence = sqlite3_column_int64(s, 0);
  int i = 1;
  for (const RecordField& field : kRecordFields) r.*field.member = Text(s, i++);
  r.previous_hash = Text(s, i++);
  r.hash = Text(s, i);
  return r;
}

// A column into `out`, whose buffer is kept.
void AssignText(sqlite3_stmt* s, int i, std::string* out) {
  const void* data = sqlite3_column_blob(s, i);
  const int size = sqlite3_column_bytes(s, i);
  out->assign(data == nullptr ? "" : static_cast<const char*>(data), data == nullptr ? 0 : size);
}

}  // namespace

// ---------------------------------------------------------------------------
// The store.

struct SqliteStore::SnapshotCopy {
  SnapshotRequest request;
  std::string temporary;  // request.path + ".tmp", renamed when complete
  sqlite3* db = nullptr;
  sqlite3_backup* backup = nullptr;

  ~SnapshotCopy() {
    if (backup != nullptr) sqlite3_backup_finish(backup);
    sqlite3_close(db);
  }
};

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& location,
                                                               const StoreOptions& options) {
  const std::string path = SqlitePathOf(location);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    absl::Status status = SqlError(db, absl::StrCat("cannot open `", path, "`"));
    sqlite3_close(db);
    return status;
  }
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(db, options));
  sqlite3_busy_timeout(db, kOpenBusyMs);
  // Exclusive before anything is read: the lock is then held from the first
  // read until close, and the WAL index is kept in memory, never in a shared
  // file. The WAL is folded into the database every 1,000 pages, by the
  // writer, after the commit that filled it.
  const std::string decisions = DecisionsTable();
  for (const char* sql : {"PRAGMA locking_mode=EXCLUSIVE;", "PRAGMA journal_mode=WAL;",
                          "PRAGMA wal_autocheckpoint=1000;", decisions.c_str(), kOtherTables}) {
    if (absl::Status status = Exec(db, sql); !status.ok()) {
      if (Busy(db)) {
        return absl::FailedPreconditionError(
            absl::StrCat("the audit log `", path,
                         "` is in use by another process (another creditd writing it?); one "
                         "creditd writes a log, and holds it until it exits"));
      }
      return status;
    }
  }
  if (absl::Status status = AddMissingColumns(db); !status.ok()) return status;
  if (absl::Status status = MigrateVersions(db); !status.ok()) return status;
  if (absl::Status status =
          Exec(db, options.durability == Durability::kDurable ? "PRAGMA synchronous=FULL;"
                                                              : "PRAGMA synchronous=NORMAL;");
      !status.ok()) {
    return status;
  }
  absl::StatusOr<LogIdentity> identity = EnsureIdentity(db);
  if (!identity.ok()) return identity.status();
  store->identity_ = *identity;
  // Records from here on are in the current format; say so once.
  absl::StatusOr<ChainHead> head = store->ReadHead();
  if (!head.ok()) return head.status();
  absl::StatusOr<std::vector<std::pair<int64_t, int>>> formats = LogFormats(db);
  if (!formats.ok()) return formats.status();
  if (formats->empty() || formats->back().second != kLogFormat) {
    const std::string sql =
        absl::StrCat("INSERT OR REPLACE INTO log_format (first_sequence, format) VALUES (",
                     head->sequence + 1, ", ", kLogFormat, ");");
    if (absl::Status status = Exec(db, sql.c_str()); !status.ok()) return status;
  }
  if (absl::Status status = store->Prepare(); !status.ok()) return status;
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, const StoreOptions& options) : db_(db), options_(options) {}

SqliteStore::~SqliteStore() {
  AbandonSnapshots();
  sqlite3_finalize(insert_);
  sqlite3_finalize(insert_policy_);
  sqlite3_close(db_);
}

absl::Status SqliteStore::Prepare() {
  if (sqlite3_prepare_v3(db_, InsertSql().c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert_,
                         nullptr) != SQLITE_OK) {
    return SqlError(db_, "cannot prepare the insert");
  }
  if (sqlite3_prepare_v3(db_,
                         "INSERT OR IGNORE INTO policies (sha256, name, version, source) "
                         "VALUES (?, ?, ?, ?)",
                         -1, SQLITE_PREPARE_PERSISTENT, &insert_policy_, nullptr) != SQLITE_OK) {
    return SqlError(db_, "cannot prepare the policy insert");
  }
  return absl::OkStatus();
}

absl::StatusOr<ChainHead> SqliteStore::ReadHead() {
  Statement s(db_, "SELECT sequence, hash FROM decisions ORDER BY sequence DESC LIMIT 1");
  if (!s.ok()) return SqlError(db_, "cannot read the last record");
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return ChainHead{};
  if (rc != SQLITE_ROW) return SqlError(db_, "cannot read the last record");
  return ChainHead{sqlite3_column_int64(s.get(), 0), Text(s.get(), 1)};
}

absl::Status SqliteStore::Begin() {
  if (!options_.stall_while_file_exists.empty()) {
    struct stat st;
    while (stat(options_.stall_while_file_exists.c_str(), &st) == 0) {
      if (interrupted_) return absl::UnavailableError("audit log: closing");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::function<absl::Status()> fault;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fault = fault_;
  }
  if (fault) {
    if (absl::Status status = fault(); !status.ok()) return status;
  }
  return Exec(db_, "BEGIN IMMEDIATE;");
}

absl::Status SqliteStore::InsertPolicy(const PolicySource& policy) {
  sqlite3_reset(insert_policy_);
  BindText(insert_policy_, 1, policy.sha256);
  BindText(insert_policy_, 2, policy.name);
  BindText(insert_policy_, 3, policy.version);
  BindText(insert_policy_, 4, policy.source);
  const int rc = sqlite3_step(insert_policy_);
  sqlite3_reset(insert_policy_);
  sqlite3_clear_bindings(insert_policy_);
  if (rc != SQLITE_DONE) return SqlError(db_, "cannot store a policy");
  return InsertBinding(db_, policy.name, policy.version, policy.sha256, policy.canonical_form,
                       policy.first_served);
}

absl::StatusOr<std::vector<StoredPolicy>> SqliteStore::ReadBindings() {
  return audit::ReadBindings(db_);
}

absl::Status SqliteStore::Insert(const AuditRecord& r) {
  sqlite3_reset(insert_);
  int i = 1;
  sqlite3_bind_int64(insert_, i++, r.sequence);
  for (const RecordField& field : kRecordFields) {
    (IsBinaryField(field, r) ? BindBytes : BindText)(insert_, i++, r.*field.member);
  }
  BindText(insert_, i++, r.previous_hash);
  BindText(insert_, i, r.hash);
  const int rc = sqlite3_step(insert_);
  absl::Status status;
  if (rc != SQLITE_DONE) {
    // The statement alone is undone; the transaction goes on.
    const std::string message = sqlite3_errmsg(db_);
    switch (rc & 0xff) {
      case SQLITE_CONSTRAINT:
        status = absl::AlreadyExistsError(message);
        break;
      case SQLITE_TOOBIG:
      case SQLITE_MISMATCH:
      case SQLITE_RANGE:
        status = absl::InvalidArgumentError(message);
        break;
      default:
        status = absl::UnavailableError(absl::StrCat("audit log: cannot write: ", message));
    }
  }
  sqlite3_reset(insert_);
  sqlite3_clear_bindings(insert_);
  return status;
}

absl::Status SqliteStore::Commit() { return Exec(db_, "COMMIT;"); }

void SqliteStore::Rollback() {
  if (!sqlite3_get_autocommit(db_)) (void)Exec(db_, "ROLLBACK;");
}

void SqliteStore::Interrupt() { interrupted_ = true; }

void SqliteStore::SetFaultForTesting(std::function<absl::Status()> fault) {
  std::lock_guard<std::mutex> lock(mutex_);
  fault_ = std::move(fault);
}

void SqliteStore::RequestSnapshot(std::string path, std::function<void(absl::Status)> done) {
  std::lock_guard<std::mutex> lock(mutex_);
  snapshot_requests_.push_back({std::move(path), std::move(done)});
}

void SqliteStore::AbandonSnapshots() {
  if (snapshot_) {
    std::remove(snapshot_->temporary.c_str());
    std::function<void(absl::Status)> done = std::move(snapshot_->request.done);
    snapshot_.reset();
    done(absl::UnavailableError("audit log: closed before the snapshot was complete"));
  }
  std::deque<SnapshotRequest> requests;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests.swap(snapshot_requests_);
  }
  for (SnapshotRequest& request : requests) {
    request.done(absl::UnavailableError("audit log: closed before the snapshot began"));
  }
}

bool SqliteStore::StepSnapshot() {
  // Pages per step: 4 MiB, a few milliseconds of copying between commits.
  constexpr int kPagesPerStep = 1024;
  auto fail = [this](absl::Status status) {
    std::unique_ptr<SnapshotCopy> copy = std::move(snapshot_);
    const std::string temporary = copy->temporary;
    std::function<void(absl::Status)> done = std::move(copy->request.done);
    copy.reset();
    std::remove(temporary.c_str());
    done(std::move(status));
    std::lock_guard<std::mutex> lock(mutex_);
    return !snapshot_requests_.empty();
  };
  if (!snapshot_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (snapshot_requests_.empty()) return false;
      snapshot_ = std::make_unique<SnapshotCopy>();
      snapshot_->request = std::move(snapshot_requests_.front());
      snapshot_requests_.pop_front();
    }
    snapshot_->temporary = snapshot_->request.path + ".tmp";
    std::remove(snapshot_->temporary.c_str());
    if (sqlite3_open_v2(snapshot_->temporary.c_str(), &snapshot_->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      return fail(SqlError(snapshot_->db, absl::StrCat("cannot create `", snapshot_->temporary,
                                                       "` for a snapshot")));
    }
    if (absl::Status status = Exec(snapshot_->db, "PRAGMA locking_mode=EXCLUSIVE;"); !status.ok()) {
      return fail(status);
    }
    snapshot_->backup = sqlite3_backup_init(snapshot_->db, "main", db_, "main");
    if (snapshot_->backup == nullptr) {
      return fail(SqlError(snapshot_->db, "cannot start a snapshot"));
    }
  }
  // Commits on this connection go into the copy as well, so the copy is
  // the log as it stands when the last step finishes.
  const int rc = sqlite3_backup_step(snapshot_->backup, kPagesPerStep);
  if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return true;
  if (rc != SQLITE_DONE) return fail(SqlError(snapshot_->db, "cannot write a snapshot"));
  sqlite3_backup_finish(snapshot_->backup);
  snapshot_->backup = nullptr;
  // The copy is a log of its own: readers open it without any lock.
  if (absl::Status status = Exec(snapshot_->db, "PRAGMA journal_mode=DELETE;"); !status.ok()) {
    return fail(status);
  }
  if (sqlite3_close(snapshot_->db) != SQLITE_OK) {
    return fail(absl::UnavailableError("audit log: cannot close a snapshot"));
  }
  snapshot_->db = nullptr;
  if (std::rename(snapshot_->temporary.c_str(), snapshot_->request.path.c_str()) != 0) {
    return fail(absl::UnavailableError(absl::StrCat(
        "audit log: cannot rename `", snapshot_->temporary, "`: ", std::strerror(errno))));
  }
  std::unique_ptr<SnapshotCopy> copy = std::move(snapshot_);
  copy->request.done(absl::OkStatus());
  std::lock_guard<std::mutex> lock(mutex_);
  return !snapshot_requests_.empty();
}

// ---------------------------------------------------------------------------
// Reading.

absl::Status ForEachRecord(const std::string& path,
                           const std::function<bool(AuditRecord&)>& visit) {
  return ForEachMatchingRecord(path, RecordFilter{}, visit);
}

namespace {

// Checks the tables the chain does not cover against the chain: see
// VerifyResult::registry_problems.
absl::Status CheckRegistry(
    const std::string& path,
    const std::map<std::pair<std::string, std::string>, std::set<std::string>>& named,
    std::vector<std::string>* problems, std::vector<std::string>* notes) {
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  absl::StatusOr<bool> has_policies = HasTable(db->get(), "policies");
  if (!has_policies.ok()) return has_policies.status();
  if (*has_policies) {
    Statement s(db->get(), "SELECT sha256, name, version, source FROM policies ORDER BY sha256");
    if (!s.ok()) return s.Error(absl::StrCat("cannot read the policies of `", path, "`"));
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      const std::string sha256 = Text(s.get(), 0);
      if (crypto::Sha256Hex(Text(s.get(), 3)) != sha256) {
        problems->push_back(absl::StrCat("the stored text of ", Text(s.get(), 1), " ",
                                         Text(s.get(), 2), " does not hash to its sha256 ", sha256,
                                         " (changed after it was stored)"));
      }
    }
    if (rc != SQLITE_DONE) {
      return s.Error(absl::StrCat("cannot read the policies of `", path, "`"));
    }
  }
  absl::StatusOr<bool> has_versions = HasTable(db->get(), "versions");
  if (!has_versions.ok()) return has_versions.status();
  if (!*has_versions) return absl::OkStatus();  // a log no creditd has migrated yet
  Statement s(db->get(),
              "SELECT v.name, v.version, v.sha256, p.sha256 IS NOT NULL FROM versions v "
              "LEFT JOIN policies p ON p.sha256 = v.sha256 ORDER BY v.name, v.version");
  if (!s.ok()) return s.Error(absl::StrCat("cannot read the versions of `", path, "`"));
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const std::string name = Text(s.get(), 0);
    const std::string version = Text(s.get(), 1);
    const std::string sha256 = Text(s.get(), 2);
    if (sqlite3_column_int(s.get(), 3) == 0) {
      problems->push_back(absl::StrCat(name, " ", version, " is bound to sha256 ", sha256,
                                       ", whose text the log does not hold"));
    }
    const auto it = named.find({name, version});
    if (it == named.end()) continue;
    // A log from before bindings may show a version served with several
    // texts; it binds the earliest, which is among them. A binding no
    // chained decision names was changed.
    if (it->second.count(sha256) == 0) {
      problems->push_back(absl::StrCat(name, " ", version, " is bound to sha256 ", sha256,
                                       ", but the chain's decisions were made with ",
                                       *it->second.begin(), " (the binding was changed)"));
    } else if (it->second.size() > 1) {
      notes->push_back(absl::StrCat(name, " ", version, " was served with ", it->second.size(),
                                    " texts before versions were bound; bound to ", sha256));
    }
  }
  if (rc != SQLITE_DONE) return s.Error(absl::StrCat("cannot read the versions of `", path, "`"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VerifyResult> VerifyLog(const std::string& path,
                                       const std::set<int64_t>& keep_hashes_of) {
  if (IsPostgresLocation(path)) {
    absl::StatusOr<std::vector<std::string>> chains = pg::ListChains(path);
    if (!chains.ok()) return chains.status();
    if (chains->size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the audit log ", LocationForDisplay(path), " holds ", chains->size(),
          " chains (one per replica): verify each (", absl::StrJoin(*chains, ", "), ")"));
    }
    if (chains->empty()) return VerifyResult{};
    return pg::VerifyChain(path, chains->front(), keep_hashes_of);
  }
  ChainCheck check(&keep_hashes_of, /*may_start_later=*/false);
  absl::Status status = ForEachRecord(path, [&](const AuditRecord& r) { return check.Next(r); });
  VerifyResult& result = check.result();
  if (!status.ok()) return status;
  if (!result.ok) return result;
  absl::Status registry =
      CheckRegistry(path, check.named(), &result.registry_problems, &result.registry_notes);
  if (!registry.ok()) return registry;
  return result;
}

absl::StatusOr<std::optional<AuditRecord>> ReadRecord(const std::string& path,
                                                      const std::string& decision_id) {
  if (IsPostgresLocation(path)) return pg::ReadRecord(path, decision_id);
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  absl::StatusOr<std::string> select = SelectRecords(db->get());
  if (!select.ok()) return select.status();
  Statement s(db->get(), absl::StrCat(*select, " WHERE decision_id = ?"));
  if (!s.ok()) return s.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  BindText(s.get(), 1, decision_id);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<AuditRecord>();
  if (rc != SQLITE_ROW) return s.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  AuditRecord record = RecordFrom(s.get());
  absl::StatusOr<std::vector<std::pair<int64_t, int>>> formats = LogFormats(db->get());
  if (!formats.ok()) return formats.status();
  record.format = FormatOf(*formats, record.sequence);
  return std::optional<AuditRecord>(std::move(record));
}

absl::StatusOr<std::string> ReadPolicySource(const std::string& path, const std::string& sha256) {
  if (IsPostgresLocation(path)) return pg::ReadPolicySource(path, sha256);
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  Statement s(db->get(), "SELECT source FROM policies WHERE sha256 = ?");
  if (!s.ok()) return s.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  BindText(s.get(), 1, sha256);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return Text(s.get(), 0);
  if (rc != SQLITE_DONE) return s.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  return absl::NotFoundError(absl::StrCat("no policy source for sha256 ", sha256));
}

absl::StatusOr<LogIdentity> ReadLogIdentity(const std::string& path) {
  if (IsPostgresLocation(path)) {
    return absl::InvalidArgumentError(absl::StrCat("the audit log ", LocationForDisplay(path),
                                                   " has a chain per replica: name the chain"));
  }
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  absl::StatusOr<std::optional<std::string>> log_id = InfoValue(db->get(), "log_id");
  if (!log_id.ok()) return log_id.status();
  absl::StatusOr<std::optional<std::string>> chain_id = InfoValue(db->get(), "chain_id");
  if (!chain_id.ok()) return chain_id.status();
  if (!log_id->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("the audit log `", path, "` has no identity (written before it was kept)"));
  }
  if (!chain_id->has_value()) {
    return absl::DataLossError(
        absl::StrCat("the audit log `", path, "` has a log id but no chain id"));
  }
  return LogIdentity{**log_id, **chain_id};
}

// ---------------------------------------------------------------------------
// Filtered reading.

absl::StatusOr<std::vector<FilterTerm>> FilterTerms(const RecordFilter& filter) {
  std::vector<FilterTerm> terms;
  // Times are all written alike (LogTimeBound), so their texts compare as
  // the times do.
  struct Bound {
    const std::optional<std::string>& text;
    const char* name;
    const char* op;
  };
  for (const Bound& bound :
       {Bound{filter.since, "since", ">="}, Bound{filter.until, "until", "<"}}) {
    if (!bound.text.has_value()) continue;
    absl::StatusOr<std::string> time = LogTimeBound(*bound.text);
    if (!time.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(bound.name, ": ", time.status().message()));
    }
    terms.push_back({"time", bound.op, *std::move(time)});
  }
  struct Exact {
    const std::optional<std::string>& value;
    const char* column;
  };
  for (const Exact& exact :
       {Exact{filter.decision, "decision"}, Exact{filter.customer_id, "customer_id"},
        Exact{filter.policy_version, "policy_version"}, Exact{filter.kind, "kind"},
        Exact{filter.outcome, "outcome"}}) {
    if (exact.value.has_value()) terms.push_back({exact.column, "=", *exact.value});
  }
  return terms;
}

namespace {

// A filter as SQL: the condition, and the values it binds, in order. The
// condition is made of the field table's columns and constant SQL only;
// every value from the filter is bound.
struct FilterSql {
  std::string where;  // "" or " WHERE ..."
  std::vector<std::string> values;
};

// A field's column or, in a log from before the field was added (read-only,
// so never migrated), the default its records read as.
absl::StatusOr<std::string> ColumnOrDefault(sqlite3* db, absl::string_view column) {
  for (const RecordField& field : kRecordFields) {
    if (column != field.column) continue;
    if (field.default_sql == nullptr) return std::string(field.column);
    absl::StatusOr<bool> has = HasColumn(db, field.column);
    if (!has.ok()) return has.status();
    return std::string(*has ? field.column : field.default_sql);
  }
  return absl::InternalError(absl::StrCat("no record field `", column, "`"));
}

absl::StatusOr<FilterSql> ToSql(sqlite3* db, const RecordFilter& filter) {
  FilterSql sql;
  std::vector<std::string> conditions;
  absl::StatusOr<std::vector<FilterTerm>> terms = FilterTerms(filter);
  if (!terms.ok()) return terms.status();
  for (FilterTerm& term : *terms) {
    absl::StatusOr<std::string> column = ColumnOrDefault(db, term.column);
    if (!column.ok()) return column.status();
    std::string expression = *column;
    if (absl::string_view(term.column) == "outcome") {
      // From format 5 the record's outcome field; before, the JSON result's.
      // A result kept as bytes is never handed to the JSON functions.
      expression = absl::StrCat("CASE WHEN ", *column, " <> '' THEN ", *column,
                                " WHEN typeof(result) = 'text' AND json_valid(result) AND "
                                "json_type(result, '$.outcome') = 'text' "
                                "THEN json_extract(result, '$.outcome') END");
    }
    conditions.push_back(absl::StrCat(expression, " ", term.op, " ?"));
    sql.values.push_back(std::move(term.value));
  }
  if (!conditions.empty()) sql.where = absl::StrCat(" WHERE ", absl::StrJoin(conditions, " AND "));
  return sql;
}

// Binds the filter's values; they must outlive the statement's steps.
void BindFilter(sqlite3_stmt* s, const FilterSql& sql) {
  for (size_t i = 0; i < sql.values.size(); ++i) {
    BindText(s, static_cast<int>(i) + 1, sql.values[i]);
  }
}

}  // namespace

absl::Status ForEachMatchingRecord(const std::string& path, const RecordFilter& filter,
                                   const std::function<bool(AuditRecord&)>& visit) {
  if (IsPostgresLocation(path)) return pg::ForEachMatchingRecord(path, filter, visit);
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  absl::StatusOr<FilterSql> sql = ToSql(db->get(), filter);
  if (!sql.ok()) return sql.status();
  absl::StatusOr<std::vector<std::pair<int64_t, int>>> formats = LogFormats(db->get());
  if (!formats.ok()) return formats.status();
  absl::StatusOr<std::string> select = SelectRecords(db->get());
  if (!select.ok()) return select.status();
  Statement s(db->get(), absl::StrCat(*select, sql->where, " ORDER BY sequence"));
  if (!s.ok()) return s.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  BindFilter(s.get(), *sql);
  int64_t last = 0;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    AuditRecord record = RecordFrom(s.get());
    record.format = FormatOf(*formats, record.sequence);
    last = record.sequence;
    if (!visit(record)) return absl::OkStatus();
  }
  if (rc != SQLITE_DONE) {
    return s.Error(
        last == 0 ? absl::StrCat("cannot read the audit log `", path, "`")
                  : absl::StrCat("the audit log `", path, "` cannot be read past record ", last));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CountMatchingRecords(const std::string& path, const RecordFilter& filter) {
  if (IsPostgresLocation(path)) return pg::CountMatchingRecords(path, filter);
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  absl::StatusOr<FilterSql> sql = ToSql(db->get(), filter);
  if (!sql.ok()) return sql.status();
  Statement s(db->get(), absl::StrCat("SELECT count(*) FROM decisions", sql->where));
  if (!s.ok()) return s.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  BindFilter(s.get(), *sql);
  if (sqlite3_step(s.get()) != SQLITE_ROW) {
    return s.Error(absl::StrCat("cannot count the records of the audit log `", path, "`"));
  }
  return static_cast<int64_t>(sqlite3_column_int64(s.get(), 0));
}

namespace {

class SqliteRanges : public RecordRanges {
 public:
  static absl::StatusOr<std::unique_ptr<RecordRanges>> Open(
      const std::string& path, const RecordFilter& filter,
      std::vector<std::string AuditRecord::*> fields);
  ~SqliteRanges() override;
  absl::Status ForEach(int64_t first, int64_t last,
                       const std::function<bool(AuditRecord&)>& visit) override;

 private:
  SqliteRanges() = default;

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
  std::vector<std::string> values_;  // the filter's, bound to select_
  std::vector<std::pair<int64_t, int>> formats_;
  std::vector<std::string AuditRecord::*> fields_;  // in the order selected
  AuditRecord record_;
};

absl::StatusOr<std::unique_ptr<RecordRanges>> SqliteRanges::Open(
    const std::string& path, const RecordFilter& filter,
    std::vector<std::string AuditRecord::*> fields) {
  absl::StatusOr<sqlite3*> db = OpenReadOnly(path, SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  std::unique_ptr<SqliteRanges> ranges(new SqliteRanges());
  ranges->path_ = path;
  ranges->db_ = *db;
  absl::StatusOr<FilterSql> sql = ToSql(ranges->db_, filter);
  if (!sql.ok()) return sql.status();
  ranges->values_ = std::move(sql->values);
  absl::StatusOr<std::vector<std::pair<int64_t, int>>> formats = LogFormats(ranges->db_);
  if (!formats.ok()) return formats.status();
  ranges->formats_ = *std::move(formats);
  // Two subqueries: SQLite finds a lone min() or max() at an end of the
  // table, but scans it for both at once.
  Statement bounds(ranges->db_,
                   "SELECT (SELECT min(sequence) FROM decisions), "
                   "(SELECT max(sequence) FROM decisions)");
  if (!bounds.ok() || sqlite3_step(bounds.get()) != SQLITE_ROW) {
    return bounds.Error(absl::StrCat("cannot read the audit log `", path, "`"));
  }
  if (sqlite3_column_type(bounds.get(), 0) != SQLITE_NULL) {
    ranges->first_ = sqlite3_column_int64(bounds.get(), 0);
    ranges->last_ = sqlite3_column_int64(bounds.get(), 1);
  }
  // The columns of the fields asked for, as SelectRecords has them.
  auto wanted = [&fields](std::string AuditRecord::*member) {
    return fields.empty() || std::find(fields.begin(), fields.end(), member) != fields.end();
  };
  std::vector<std::string> columns = {"sequence"};
  for (const RecordField& field : kRecordFields) {
    if (!wanted(field.member)) continue;
    absl::StatusOr<bool> has = HasColumn(ranges->db_, field.column);
    if (!has.ok()) return has.status();
    columns.push_back(*has || field.default_sql == nullptr ? field.column : field.default_sql);
    ranges->fields_.push_back(field.member);
  }
  for (const auto& [column, member] : {std::make_pair("previous_hash", &AuditRecord::previous_hash),
                                       std::make_pair("hash", &AuditRecord::hash)}) {
    if (!wanted(member)) continue;
    columns.push_back(column);
    ranges->fields_.push_back(member);
  }
  const std::string select =
      absl::StrCat("SELECT ", absl::StrJoin(columns, ", "), " FROM decisions");
  const std::string range = "sequence >= ? AND sequence <= ?";
  const std::string where = sql->where.empty() ? absl::StrCat(" WHERE ", range)
                                               : absl::StrCat(sql->where, " AND ", range);
  const std::string text = absl::StrCat(select, where, " ORDER BY sequence");
  if (sqlite3_prepare_v2(ranges->db_, text.c_str(), -1, &ranges->select_, nullptr) != SQLITE_OK) {
    return absl::DataLossError(
        absl::StrCat("cannot read the audit log `", path, "`: ", sqlite3_errmsg(ranges->db_)));
  }
  for (size_t i = 0; i < ranges->values_.size(); ++i) {
    BindText(ranges->select_, static_cast<int>(i) + 1, ranges->values_[i]);
  }
  return std::unique_ptr<RecordRanges>(std::move(ranges));
}

SqliteRanges::~SqliteRanges() {
  sqlite3_finalize(select_);
  sqlite3_close(db_);
}

absl::Status SqliteRanges::ForEach(int64_t first, int64_t last,
                                   const std::function<bool(AuditRecord&)>& visit) {
  sqlite3_reset(select_);
  const int at = static_cast<int>(values_.size());
  sqlite3_bind_int64(select_, at + 1, first);
  sqlite3_bind_int64(select_, at + 2, last);
  int64_t read = 0;
  int rc;
  while ((rc = sqlite3_step(select_)) == SQLITE_ROW) {
    record_.sequence = sqlite3_column_int64(select_, 0);
    for (size_t i = 0; i < fields_.size(); ++i) {
      AssignText(select_, static_cast<int>(i) + 1, &(record_.*fields_[i]));
    }
    record_.format = FormatOf(formats_, record_.sequence);
    read = record_.sequence;
    if (!visit(record_)) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    // Every record before `first` was there to be read by another range.
    if (read == 0 && first > first_) read = first - 1;
    return absl::DataLossError(absl::StrCat(
        read == 0 ? absl::StrCat("cannot read the audit log `", path_, "`")
                  : absl::StrCat("the audit log `", path_, "` cannot be read past record ", read),
        ": ", sqlite3_errmsg(db_)));
  }
  sqlite3_reset(select_);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecordRanges>> RecordRanges::Open(
    const std::string& path, const RecordFilter& filter,
    std::vector<std::string AuditRecord::*> fields) {
  if (IsPostgresLocation(path)) return pg::OpenRanges(path, filter, std::move(fields));
  return SqliteRanges::Open(path, filter, std::move(fields));
}

absl::StatusOr<std::vector<std::string>> ListChains(const std::string& path) {
  if (IsPostgresLocation(path)) return pg::ListChains(path);
  return std::vector<std::string>{kChainId};
}

absl::StatusOr<VerifyResult> VerifyChain(const std::string& path, const std::string& chain,
                                         const std::set<int64_t>& keep_hashes_of) {
  if (IsPostgresLocation(path)) return pg::VerifyChain(path, chain, keep_hashes_of);
  if (chain != kChainId) {
    return absl::NotFoundError(absl::StrCat("the audit log `", SqlitePathOf(path),
                                            "` has one chain, `", kChainId, "`, not `", chain,
                                            "`"));
  }
  return VerifyLog(path, keep_hashes_of);
}

absl::StatusOr<LogIdentity> ReadChainIdentity(const std::string& path, const std::string& chain) {
  if (IsPostgresLocation(path)) return pg::ReadLogIdentity(path, chain);
  return ReadLogIdentity(path);
}

absl::StatusOr<std::vector<StoredPolicy>> ReadStoredVersions(const std::string& path) {
  if (IsPostgresLocation(path)) return pg::ReadStoredVersions(path);
  absl::StatusOr<Reader> db = Reader::Open(path);
  if (!db.ok()) return db.status();
  // Not migrated yet: read as it will be once opened.
  absl::StatusOr<bool> has = HasTable(db->get(), "versions");
  if (!has.ok()) return has.status();
  return *has ? ReadBindings(db->get()) : EarliestBindings(db->get());
}

}  // namespace creditd::audit
