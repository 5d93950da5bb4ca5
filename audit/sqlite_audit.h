#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_sink.h"

struct sqlite3;
struct sqlite3_stmt;

namespace creditd::audit {

enum class Durability {
  kDurable,  // a record is committed (fsync) before Append returns
  kAsync,    // Append returns once queued; a crash can lose the last records
};

struct SqliteOptions {
  Durability durability = Durability::kDurable;
  size_t max_batch = 2048;  // records per group commit
  // Records waiting to be written (either mode) before Append refuses with
  // Unavailable: a stalled disk must not grow memory without bound.
  size_t max_pending = 20000;
};

// The embedded audit log: SQLite in WAL mode. One writer thread commits
// records in batches (group commit) and keeps the hash chain; callers wait
// for their batch in durable mode. AppendAsync's callbacks run in commit
// order: on a second thread while the writer commits the next group, or on
// the writer itself when nothing else is waiting. A third thread checkpoints
// the WAL into the database on its own connection, off the commit path.
// When the database cannot be written (disk full, read-only), the batch
// fails, its callers get Unavailable, and the next batch tries again: the
// log recovers by itself.
class SqliteAuditSink : public AuditSink {
 public:
  // Opens (creating if needed) the log at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteAuditSink>> Open(const std::string& path,
                                                               const SqliteOptions& options);
  ~SqliteAuditSink() override;

  absl::Status StorePolicy(const engine::CompiledPolicy& policy) override;
  absl::StatusOr<std::vector<StoredPolicy>> StoredVersions() override;
  absl::Status Append(AuditRecord record) override;
  void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) override;
  absl::Status Flush() override;

  // A test hook: while it returns an error, commits fail with it.
  void SetFaultForTesting(std::function<absl::Status()> fault);

 private:
  struct Pending {
    AuditRecord record;
    std::string content_hash;  // ContentHash(record), by the caller's thread
    bool done = false;
    absl::Status status;
    std::function<void(absl::Status)> callback;  // AppendAsync's
    bool policy_only = false;                    // StorePolicy's: no record
  };
  struct PolicySource {
    std::string sha256, name, version, source;
    int canonical_form = 1;
    std::string first_served;  // when StorePolicy was asked: it serves from then
  };

  SqliteAuditSink(sqlite3* db, sqlite3_stmt* insert, const SqliteOptions& options);
  void Run();
  void Notify();
  void Checkpoint();
  absl::Status QueueFull() const;
  // sqlite3_wal_hook: after each commit, with the WAL's size in pages.
  static int OnWalCommit(void* sink, sqlite3* db, const char* schema, int pages);

  // The checkpointer folds the WAL into the database once it holds this many
  // pages (4 KiB each); past the second limit the writer does it itself, so
  // the WAL stays bounded under a load that never pauses.
  static constexpr int kWalCheckpointPages = 1000;
  static constexpr int kWalRestartPages = 16384;
  absl::Status Commit(const std::vector<PolicySource>& policies,
                      std::vector<std::shared_ptr<Pending>>& batch);

  sqlite3* db_;
  sqlite3_stmt* insert_;  // kept prepared for the log's lifetime
  SqliteOptions options_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  size_t in_flight_ = 0;
  std::string last_hash_;
  int64_t last_sequence_ = 0;
  bool failing_ = false;
  std::vector<PolicySource> policies_;  // stored with the next batch that commits
  // The versions bound, by (name, version): read at Open, added to as
  // their sources commit.
  std::map<std::pair<std::string, std::string>, StoredPolicy> bound_;
  // Notes `policies`, just committed, as bound. With mutex_ held.
  void NoteBound(const std::vector<PolicySource>& policies);
  std::function<absl::Status()> fault_;
  std::thread writer_;
  // Committed (or failed) groups whose callbacks have yet to run, oldest first.
  struct Notice {
    std::vector<std::shared_ptr<Pending>> batch;
    absl::Status status;
  };
  std::deque<Notice> notices_;
  std::condition_variable notice_;
  bool notifier_stopping_ = false;
  bool notifying_ = false;  // the notifier is running a group's callbacks
  std::thread notifier_;
  // The checkpointer: its own connection and thread.
  sqlite3* checkpoint_db_ = nullptr;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stopping_ = false;
  std::thread checkpointer_;
};

// Reads and checks a log. Each function opens the database read-only.
struct VerifyResult {
  int64_t records = 0;
  bool ok = true;
  int64_t first_broken = 0;  // sequence of the first record that does not verify
  std::string problem;
};
absl::StatusOr<VerifyResult> VerifyLog(const std::string& path);
absl::StatusOr<std::optional<AuditRecord>> ReadRecord(const std::string& path,
                                                      const std::string& decision_id);
// Calls `visit` for every record in order; stops early when it returns false.
absl::Status ForEachRecord(const std::string& path,
                           const std::function<bool(const AuditRecord&)>& visit);
// The canonical source stored for a policy sha256.
absl::StatusOr<std::string> ReadPolicySource(const std::string& path, const std::string& sha256);
// Every version the log at `path` has bound, with its text, as
// SqliteAuditSink::StoredVersions gives them; a log this creditd has not
// opened yet reads as it will once opened (see MigrateVersions in
// sqlite_audit.cc). Opens the database read-only.
absl::StatusOr<std::vector<StoredPolicy>> ReadStoredVersions(const std::string& path);

}  // namespace creditd::audit
