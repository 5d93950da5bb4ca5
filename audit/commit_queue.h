#pragma once

// Group commit: callers hand records to a queue; one writer thread takes
// every record waiting (up to a batch), chains them, and commits them to a
// RecordStore in one transaction. It knows nothing of SQLite: the store is
// an interface, and tests drive the queue with stores that fail on cue.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/record.h"

namespace creditd::audit {

enum class Durability {
  kDurable,  // a record is committed (fsync) before Append returns
  kAsync,    // Append returns once queued; a crash can lose the last records
};

// Where the chain continues: the last committed record.
struct ChainHead {
  int64_t sequence = 0;
  std::string hash;
};

// What the queue needs from storage. Called on the queue's writer thread
// only, one transaction at a time: Begin, then inserts, then Commit or
// Rollback.
//
// An Insert error that concerns that record alone (a constraint, a value the
// store cannot hold) is InvalidArgument or AlreadyExists, and leaves the
// transaction usable; the queue fails that record's caller and goes on. Any
// other error fails the transaction: the queue rolls back and fails the
// whole group; after a failed group (a Commit whose outcome the store may
// not know, a torn write, or a store that reconnected) the queue reads the
// head again before the next group. An InsertPolicy error FailedPrecondition
// refuses that source for good: its StorePolicy fails with it, and the
// source is not tried again.
class RecordStore {
 public:
  virtual ~RecordStore() = default;
  virtual absl::StatusOr<ChainHead> ReadHead() = 0;
  virtual absl::Status Begin() = 0;
  // Stores a policy source unless one with its sha256 is stored already.
  virtual absl::Status InsertPolicy(const PolicySource& policy) = 0;
  // `record` carries its sequence, previous hash and hash.
  virtual absl::Status Insert(const AuditRecord& record) = 0;
  virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;
  // The queue is closing: a Begin that waits (on a stalled disk) may give up.
  // Any thread.
  virtual void Interrupt() {}
};

// Does an Insert error concern that record alone?
bool ConcernsOneRecord(const absl::Status& status);

// One group commit, as the queue tells whoever watches it (metrics).
struct GroupCommit {
  size_t records = 0;      // records in the group; policy sources are not counted
  size_t written = 0;      // of them, committed (none when the group failed)
  absl::Duration latency;  // from the transaction's start to its commit or failure
  absl::Status status;     // the group's: OK, or why none of it was committed
};

struct QueueOptions {
  Durability durability = Durability::kDurable;
  size_t max_batch = 2048;  // records per group commit
  // Records waiting to be written (either mode) before Append refuses with
  // Unavailable: a stalled disk must not grow memory without bound.
  size_t max_pending = 20000;
  // Called on the writer thread when commits start failing (with the error)
  // and when they succeed again (OK): the log's state, told at once.
  std::function<void(const absl::Status&)> on_state;
  // Called on the writer thread for a record that was not logged because of
  // an error that concerns it alone, after its caller heard (durable mode)
  // or when nobody waits for it (async mode).
  std::function<void(const AuditRecord&, const absl::Status&)> on_record_failed;
  // Called on the writer thread with the policy sources a group just
  // committed (stored and bound).
  std::function<void(const std::vector<PolicySource>&)> on_policies_committed;
  // Called on the writer thread after each group commit, committed or
  // failed (in async mode a failed group is tried again, and told again).
  // It must be quick: the next group waits for it.
  std::function<void(const GroupCommit&)> on_group_commit;
  // Async mode only: called with how many records, accepted and answered,
  // will never be written: one the store refused alone (on the writer
  // thread), and those still queued when Close gives up (in Close).
  std::function<void(size_t)> on_records_dropped;
  // Work the store does between groups (copying a snapshot): called on the
  // writer thread after each group and while nothing waits to be committed,
  // once Wake() says there is some; returns whether more is left.
  std::function<bool()> between_commits;
};

class CommitQueue {
 public:
  CommitQueue(RecordStore& store, QueueOptions options);
  // Writes out what it can in a moment (Close(0)).
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Reads the chain's head from the store and starts the threads.
  absl::Status Start();

  // The source goes in with the next group that commits, so a record is
  // never committed without its policy's text. Returns once it is stored,
  // or with the error of the group that failed.
  absl::Status StorePolicy(PolicySource policy);
  // Durable: returns once the record is committed, Unavailable when its group
  // could not be, Internal when the record alone could not be stored. Async:
  // returns once queued. Unavailable in either mode when max_pending records
  // wait already.
  absl::Status Append(AuditRecord record);
  // Durable: `done` runs once the record's group is committed or failed, in
  // commit order, on a thread of the queue's. Async: `done` runs at once
  // with Append's answer. It must not block.
  void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done);
  // Returns once everything queued is committed, or Unavailable while the
  // store fails.
  absl::Status Flush();
  // Writes out what is queued, waiting at most `timeout` for a failing store
  // to recover, then stops. OK when every accepted record was written;
  // otherwise DataLoss saying how many were not (in async mode these are
  // decisions already answered). Callers still waiting hear Unavailable.
  absl::Status Close(absl::Duration timeout);

  // There is work for between_commits.
  void Wake();
  // The last committed record.
  ChainHead Committed() const;
  // Records (and policy sources) accepted and not yet committed: those
  // max_pending bounds.
  size_t Depth() const;

 private:
  struct Pending {
    AuditRecord record;
    std::string content_hash;  // ContentHash(record), by the caller's thread
    bool done = false;
    absl::Status status;
    std::function<void(absl::Status)> callback;  // AppendAsync's
    bool policy_only = false;                    // StorePolicy's: no record
  };
  using Batch = std::vector<std::shared_ptr<Pending>>;

  void Run();
  void Notify();
  absl::Status Stop(absl::Time deadline, bool give_up_when_failing);
  // Runs between_commits once (the lock released meanwhile); whether more
  // is left.
  bool BetweenCommits(std::unique_lock<std::mutex>& lock);
  absl::Status QueueFull() const;
  // Commits one group; sets each record's status. Returns the group's
  // error (the transaction failed), or OK.
  absl::Status CommitGroup(const std::vector<PolicySource>& policies, Batch& batch);

  RecordStore& store_;
  const QueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::deque<std::shared_ptr<Pending>> queue_;
  size_t in_flight_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool failing_ = false;
  bool idle_work_ = false;
  uint64_t wakes_ = 0;
  ChainHead committed_;                 // under mutex_
  ChainHead head_;                      // the writer's own
  bool resync_ = false;                 // the writer's own: read the head first
  std::string refused_sha256_;          // the writer's: a source the store refused for good
  std::vector<PolicySource> policies_;  // stored with the next group that commits
  std::thread writer_;
  // Committed (or failed) groups whose callbacks have yet to run, oldest first.
  struct Notice {
    Batch batch;
  };
  std::deque<Notice> notices_;
  std::condition_variable notice_;
  bool notifier_stopping_ = false;
  bool notifying_ = false;  // the notifier is running a group's callbacks
  std::thread notifier_;
};

}  // namespace creditd::audit
