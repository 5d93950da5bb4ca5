#pragma once

// The decision log as the server writes it: a CommitQueue writing to a
// LogStore (SQLite or PostgreSQL), and the registry of versions it binds.

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
#include "audit/log_store.h"

namespace creditd::audit {

// One writer thread commits records in batches (group commit) and keeps the
// hash chain; callers wait for their batch in durable mode. AppendAsync's
// callbacks run in commit order: on a second thread while the writer commits
// the next group, or on the writer itself when nothing else is waiting. When
// the store cannot be written (disk full, read-only, database gone), the
// batch fails, its callers get Unavailable, and the next batch tries again:
// the log recovers by itself.
class LogSink : public AuditSink {
 public:
  // Reads the store's bindings and head, and starts the writer.
  static absl::StatusOr<std::unique_ptr<LogSink>> Open(std::unique_ptr<LogStore> store,
                                                       const QueueOptions& options);
  // Writes out what is queued, unless the log is failing.
  ~LogSink() override;

  absl::Status StorePolicy(PolicySource policy) override;
  absl::StatusOr<std::vector<StoredPolicy>> StoredVersions() override;
  absl::Status Append(AuditRecord record) override;
  void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) override;
  absl::Status Flush() override;
  // Writes out what is queued for at most `timeout`, then closes the queue
  // (CommitQueue::Close: DataLoss names how many answered decisions were
  // not written).
  absl::Status Close(absl::Duration timeout);

  const LogIdentity& identity() const { return store_->identity(); }
  // The last committed record: what a checkpoint signs.
  ChainHead Committed() const { return queue_->Committed(); }
  // Records waiting to be committed (CommitQueue::Depth).
  size_t QueueDepth() const { return queue_->Depth(); }

  // A test hook: while it returns an error, commits fail with it.
  void SetFaultForTesting(std::function<absl::Status()> fault);

 protected:
  explicit LogSink(std::unique_ptr<LogStore> store) : store_(std::move(store)) {}
  // Reads the bindings, starts the queue.
  absl::Status Start(const QueueOptions& options);
  // There is work for the store between commits.
  void Wake() { queue_->Wake(); }

 private:
  // Notes `policies`, just committed, as bound.
  void NoteBound(const std::vector<PolicySource>& policies);

  // The versions bound, by (name, version), read at Open and added to as
  // their sources commit; and those handed to the queue, not yet committed.
  std::mutex bindings_mutex_;
  std::map<std::pair<std::string, std::string>, StoredPolicy> bound_;
  std::map<std::pair<std::string, std::string>, std::string> waiting_;  // to sha256
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<CommitQueue> queue_;  // uses store_; destroyed first
};

}  // namespace creditd::audit
