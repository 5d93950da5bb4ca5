#include "audit/sqlite_audit.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

// How long an open waits for a lock another connection holds. A creditd
// holds its log's lock for as long as it runs, so waiting longer would not
// help.
constexpr int kOpenBusyMs = 1000;

bool Busy(sqlite3* db) {
  const int code = sqlite3_errcode(db);
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

// Opens read-only; NotFound when the file does not exist, FailedPrecondition
// when a running creditd holds it.
absl::StatusOr<sqlite3*> OpenReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
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

}  // namespace

struct SqliteAuditSink::SnapshotCopy {
  SnapshotRequest request;
  std::string temporary;  // request.path + ".tmp", renamed when complete
  sqlite3* db = nullptr;
  sqlite3_backup* backup = nullptr;

  ~SnapshotCopy() {
    if (backup != nullptr) sqlite3_backup_finish(backup);
    sqlite3_close(db);
  }
};

absl::StatusOr<std::unique_ptr<SqliteAuditSink>> SqliteAuditSink::Open(
    const std::string& path, const SqliteOptions& options) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    absl::Status status = SqlError(db, absl::StrCat("cannot open `", path, "`"));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, kOpenBusyMs);
  // Exclusive before anything is read: the lock is then held from the first
  // read until close, and the WAL index is kept in memory, never in a shared
  // file. The WAL is folded into the database every 1,000 pages, by the
  // writer, after the commit that filled it.
  for (const char* sql : {"PRAGMA locking_mode=EXCLUSIVE;", "PRAGMA journal_mode=WAL;",
                          "PRAGMA wal_autocheckpoint=1000;", kSchema}) {
    if (absl::Status status = Exec(db, sql); !status.ok()) {
      if (Busy(db)) {
        status = absl::FailedPreconditionError(
            absl::StrCat("the audit log `", path,
                         "` is in use by another process (another creditd writing it?); one "
                         "creditd writes a log, and holds it until it exits"));
      }
      sqlite3_close(db);
      return status;
    }
  }
  if (absl::Status status = AddFormat3Columns(db); !status.ok()) {
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
  sink->writer_ = std::thread([raw = sink.get()] { raw->Run(); });
  sink->notifier_ = std::thread([raw = sink.get()] { raw->Notify(); });
  return sink;
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
  // Snapshots not finished are abandoned.
  if (snapshot_) {
    std::remove(snapshot_->temporary.c_str());
    std::function<void(absl::Status)> done = std::move(snapshot_->request.done);
    snapshot_.reset();
    done(absl::UnavailableError("audit log: closed before the snapshot was complete"));
  }
  for (SnapshotRequest& request : snapshot_requests_) {
    request.done(absl::UnavailableError("audit log: closed before the snapshot began"));
  }
  snapshot_requests_.clear();
  // The notifier drains every group left before it stops. (Callbacks must not
  // append: the writer is gone.)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    notifier_stopping_ = true;
  }
  notice_.notify_all();
  if (notifier_.joinable()) notifier_.join();
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
  if (std::none_of(policies_.begin(), policies_.end(),
                   [&](const PolicySource& p) { return p.sha256 == id.sha256; })) {
    policies_.push_back({id.sha256, id.name, id.version, policy.canonical_source()});
  }
  queue_.push_back(marker);
  work_.notify_one();
  done_.wait(lock, [&] { return marker->done; });
  return marker->status;
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
    // Between commits, a snapshot's pages are copied, a few at a time.
    while (queue_.empty() && !stopping_ && (snapshot_ || !snapshot_requests_.empty())) {
      lock.unlock();
      StepSnapshot();
      lock.lock();
    }
    work_.wait(lock, [&] { return stopping_ || !queue_.empty() || !snapshot_requests_.empty(); });
    if (queue_.empty() && stopping_) return;
    if (queue_.empty()) continue;
    std::vector<std::shared_ptr<Pending>> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ = batch.size();
    std::function<absl::Status()> fault = fault_;
    const std::vector<PolicySource> policies = policies_;
    lock.unlock();
    StallWhileFileExists();
    absl::Status status = fault ? fault() : absl::OkStatus();
    if (status.ok()) status = Commit(policies, batch);
    // A log that never goes quiet still gets its snapshot.
    if (snapshot_) StepSnapshot();
    lock.lock();
    if (status.ok()) policies_.erase(policies_.begin(), policies_.begin() + policies.size());
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

void SqliteAuditSink::StallWhileFileExists() {
  if (options_.stall_while_file_exists.empty()) return;
  struct stat st;
  while (stat(options_.stall_while_file_exists.c_str(), &st) == 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void SqliteAuditSink::Snapshot(std::string path, std::function<void(absl::Status)> done) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) {
    done(absl::UnavailableError("audit log: closing; no snapshot"));
    return;
  }
  snapshot_requests_.push_back({std::move(path), std::move(done)});
  work_.notify_one();
}

bool SqliteAuditSink::StepSnapshot() {
  // Pages per step: 4 MiB, a few milliseconds of copying between commits.
  constexpr int kPagesPerStep = 1024;
  auto fail = [this](absl::Status status) {
    std::unique_ptr<SnapshotCopy> copy = std::move(snapshot_);
    const std::string temporary = copy->temporary;
    std::function<void(absl::Status)> done = std::move(copy->request.done);
    copy.reset();
    std::remove(temporary.c_str());
    done(std::move(status));
    return false;
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
  return false;
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

}  // namespace creditd::audit
