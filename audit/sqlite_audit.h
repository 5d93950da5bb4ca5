#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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
  // For tests of a stalled disk: while a file exists at this path, the
  // writer waits before each commit. Empty (the default): never.
  std::string stall_while_file_exists;
};

// The embedded audit log: SQLite in WAL mode, held exclusively. One writer
// thread commits records in batches (group commit) and keeps the hash chain;
// callers wait for their batch in durable mode. AppendAsync's callbacks run
// in commit order: on a second thread while the writer commits the next
// group, or on the writer itself when nothing else is waiting. When the
// database cannot be written (disk full, read-only), the batch fails, its
// callers get Unavailable, and the next batch tries again: the log recovers
// by itself.
//
// The sink's one connection holds the database's lock for as long as it is
// open (SQLite's exclusive locking mode): no second writer can open the log,
// and the WAL index lives in the process's own memory rather than in a
// shared "-shm" file that another process could truncate or make
// unwritable under it (which ends a process with SIGBUS). Other processes
// read a consistent copy made by Snapshot.
class SqliteAuditSink : public AuditSink {
 public:
  // Opens (creating if needed) the log at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteAuditSink>> Open(const std::string& path,
                                                               const SqliteOptions& options);
  ~SqliteAuditSink() override;

  absl::Status StorePolicy(const engine::CompiledPolicy& policy) override;
  absl::Status Append(AuditRecord record) override;
  void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) override;
  absl::Status Flush() override;

  // A test hook: while it returns an error, commits fail with it.
  void SetFaultForTesting(std::function<absl::Status()> fault);

  // Copies the log, as committed when the copy finishes, to `path` (through
  // `path`.tmp, renamed when complete), a few pages at a time between
  // commits so appends keep flowing. `done` runs on the writer thread with
  // the result. A snapshot requested while one runs waits for it.
  void Snapshot(std::string path, std::function<void(absl::Status)> done);

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
  };

  struct SnapshotRequest {
    std::string path;
    std::function<void(absl::Status)> done;
  };
  // A snapshot being copied: the copy's connection and SQLite's backup.
  struct SnapshotCopy;

  SqliteAuditSink(sqlite3* db, sqlite3_stmt* insert, const SqliteOptions& options);
  void Run();
  void Notify();
  absl::Status QueueFull() const;
  void StallWhileFileExists();
  // The writer's share of snapshot work: starts a requested copy, copies a
  // few pages, finishes it. Called without the mutex; true while a copy runs.
  bool StepSnapshot();
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
  // Snapshots waiting to start (under mutex_), and the one being copied
  // (the writer's alone).
  std::deque<SnapshotRequest> snapshot_requests_;
  std::unique_ptr<SnapshotCopy> snapshot_;
};

// Reads and checks a log. Each function opens the database read-only; a log
// a running creditd holds cannot be read (FailedPrecondition, naming the
// snapshot to read instead).
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

}  // namespace creditd::audit
