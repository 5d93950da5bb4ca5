#pragma once

// The embedded audit log: a CommitQueue writing to a SqliteStore.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "audit/commit_queue.h"
#include "audit/sqlite_store.h"

namespace creditd::audit {

// The queue's options (durability, batch, bound, what it tells), and the
// store's one test hook.
struct SqliteOptions : QueueOptions {
  // For tests of a stalled disk: while a file exists at this path, the
  // writer waits before each commit. Empty (the default): never.
  std::string stall_while_file_exists;
};

// One writer thread commits records in batches (group commit) and keeps the
// hash chain; callers wait for their batch in durable mode. AppendAsync's
// callbacks run in commit order: on a second thread while the writer commits
// the next group, or on the writer itself when nothing else is waiting. When
// the database cannot be written (disk full, read-only), the batch fails,
// its callers get Unavailable, and the next batch tries again: the log
// recovers by itself. The log is held exclusively while open (SqliteStore).
class SqliteAuditSink : public AuditSink {
 public:
  // Opens (creating if needed) the log at `path`; FailedPrecondition when
  // another process holds it.
  static absl::StatusOr<std::unique_ptr<SqliteAuditSink>> Open(const std::string& path,
                                                               const SqliteOptions& options);
  // Writes out what is queued, unless the log is failing.
  ~SqliteAuditSink() override;

  absl::Status StorePolicy(PolicySource policy) override;
  absl::StatusOr<std::vector<StoredPolicy>> StoredVersions() override;
  absl::Status Append(AuditRecord record) override;
  void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) override;
  absl::Status Flush() override;
  // Writes out what is queued for at most `timeout`, then closes the queue
  // (CommitQueue::Close: DataLoss names how many answered decisions were
  // not written).
  absl::Status Close(absl::Duration timeout);

  // Copies the log, as committed when the copy finishes, to `path` (through
  // `path`.tmp, renamed when complete), a few pages at a time between
  // commits so appends keep flowing. `done` runs on the writer thread with
  // the result. A snapshot requested while one runs waits for it.
  void Snapshot(std::string path, std::function<void(absl::Status)> done);

  const LogIdentity& identity() const { return store_->identity(); }
  // The last committed record: what a checkpoint signs.
  ChainHead Committed() const { return queue_->Committed(); }
  // Records waiting to be committed (CommitQueue::Depth).
  size_t QueueDepth() const { return queue_->Depth(); }

  // A test hook: while it returns an error, commits fail with it.
  void SetFaultForTesting(std::function<absl::Status()> fault);

 private:
  explicit SqliteAuditSink(std::unique_ptr<SqliteStore> store) : store_(std::move(store)) {}

  // Notes `policies`, just committed, as bound.
  void NoteBound(const std::vector<PolicySource>& policies);

  // The versions bound, by (name, version), read at Open and added to as
  // their sources commit; and those handed to the queue, not yet committed.
  std::mutex bindings_mutex_;
  std::map<std::pair<std::string, std::string>, StoredPolicy> bound_;
  std::map<std::pair<std::string, std::string>, std::string> waiting_;  // to sha256
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<CommitQueue> queue_;  // uses store_; destroyed first
};

}  // namespace creditd::audit
