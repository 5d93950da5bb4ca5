#include "audit/commit_queue.h"

#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace creditd::audit {

bool ConcernsOneRecord(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsAlreadyExists(status);
}

CommitQueue::CommitQueue(RecordStore& store, QueueOptions options)
    : store_(store), options_(std::move(options)) {}

CommitQueue::~CommitQueue() {
  // Everything still queued is written, unless the store is failing.
  (void)Stop(absl::InfiniteFuture(), /*give_up_when_failing=*/true);
}

absl::Status CommitQueue::Start() {
  absl::StatusOr<ChainHead> head = store_.ReadHead();
  if (!head.ok()) return head.status();
  head_ = *head;
  committed_ = *head;
  writer_ = std::thread([this] { Run(); });
  notifier_ = std::thread([this] { Notify(); });
  started_ = true;
  return absl::OkStatus();
}

absl::Status CommitQueue::StorePolicy(PolicySource policy) {
  auto marker = std::make_shared<Pending>();
  marker->policy_only = true;
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return absl::UnavailableError("audit log: closed");
  bool known = false;
  for (const PolicySource& p : policies_) known = known || p.sha256 == policy.sha256;
  if (!known) policies_.push_back(std::move(policy));
  queue_.push_back(marker);
  work_.notify_one();
  done_.wait(lock, [&] { return marker->done; });
  return marker->status;
}

absl::Status CommitQueue::Append(AuditRecord record) {
  auto pending = std::make_shared<Pending>();
  pending->content_hash = ContentHash(record);
  pending->record = std::move(record);
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return absl::UnavailableError("audit log: closed");
  if (queue_.size() + in_flight_ >= options_.max_pending) return QueueFull();
  queue_.push_back(pending);
  work_.notify_one();
  if (options_.durability == Durability::kAsync) return absl::OkStatus();
  done_.wait(lock, [&] { return pending->done; });
  return pending->status;
}

void CommitQueue::AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) {
  if (options_.durability == Durability::kAsync) {
    done(Append(std::move(record)));
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->content_hash = ContentHash(record);
  pending->record = std::move(record);
  std::unique_lock<std::mutex> lock(mutex_);
  absl::Status refused;
  if (stopping_) {
    refused = absl::UnavailableError("audit log: closed");
  } else if (queue_.size() + in_flight_ >= options_.max_pending) {
    refused = QueueFull();
  }
  if (!refused.ok()) {
    lock.unlock();
    done(std::move(refused));
    return;
  }
  pending->callback = std::move(done);
  queue_.push_back(std::move(pending));
  work_.notify_one();
}

absl::Status CommitQueue::QueueFull() const {
  return absl::UnavailableError(absl::StrCat("audit log: ", options_.max_pending,
                                             " records are waiting to be written; the log cannot "
                                             "keep up or cannot be written"));
}

absl::Status CommitQueue::Flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return (queue_.empty() && in_flight_ == 0) || failing_ || stopping_; });
  if (failing_) return absl::UnavailableError("audit log: records are waiting to be written");
  return absl::OkStatus();
}

absl::Status CommitQueue::Close(absl::Duration timeout) {
  return Stop(absl::Now() + timeout, /*give_up_when_failing=*/false);
}

absl::Status CommitQueue::Stop(absl::Time deadline, bool give_up_when_failing) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!started_ || stopping_) return absl::OkStatus();
  const auto drained = [&] {
    return (queue_.empty() && in_flight_ == 0) || (give_up_when_failing && failing_);
  };
  if (deadline == absl::InfiniteFuture()) {
    done_.wait(lock, drained);
  } else {
    done_.wait_until(lock, absl::ToChronoTime(deadline), drained);
  }
  stopping_ = true;
  work_.notify_all();
  lock.unlock();
  store_.Interrupt();
  writer_.join();
  lock.lock();
  // What is left was not written: its callers hear so.
  Batch left(queue_.begin(), queue_.end());
  queue_.clear();
  size_t records = 0;
  const absl::Status closed =
      absl::UnavailableError("audit log: closed before this record could be written");
  for (const auto& p : left) {
    p->done = true;
    p->status = closed;
    if (!p->policy_only) ++records;
  }
  done_.notify_all();
  if (!left.empty()) notices_.push_back({std::move(left)});
  notifier_stopping_ = true;
  notice_.notify_all();
  lock.unlock();
  notifier_.join();
  if (records == 0) return absl::OkStatus();
  if (options_.durability == Durability::kAsync) {
    if (options_.on_records_dropped) options_.on_records_dropped(records);
    return absl::DataLossError(absl::StrCat(records,
                                            " decisions were answered but could not be written "
                                            "to the audit log"));
  }
  return absl::UnavailableError(absl::StrCat(
      records, " calls waiting for the audit log were refused at close (none was answered)"));
}

void CommitQueue::Wake() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++wakes_;
  idle_work_ = true;
  work_.notify_one();
}

ChainHead CommitQueue::Committed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return committed_;
}

size_t CommitQueue::Depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size() + in_flight_;
}

bool CommitQueue::BetweenCommits(std::unique_lock<std::mutex>& lock) {
  const uint64_t seen = wakes_;
  lock.unlock();
  const bool more = options_.between_commits();
  lock.lock();
  if (!more && wakes_ == seen) idle_work_ = false;
  return idle_work_;
}

void CommitQueue::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    while (queue_.empty() && !stopping_ && idle_work_ && options_.between_commits) {
      BetweenCommits(lock);
    }
    work_.wait(lock, [&] { return stopping_ || !queue_.empty() || idle_work_; });
    if (stopping_) return;
    if (queue_.empty()) continue;
    Batch batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ = batch.size();
    const std::vector<PolicySource> policies = policies_;
    lock.unlock();
    const auto began = std::chrono::steady_clock::now();
    const absl::Status status = CommitGroup(policies, batch);
    if (options_.on_group_commit) {
      GroupCommit group;
      for (const auto& p : batch) {
        if (p->policy_only) continue;
        ++group.records;
        if (status.ok() && p->status.ok()) ++group.written;
      }
      group.latency = absl::FromChrono(std::chrono::steady_clock::now() - began);
      group.status = status;
      options_.on_group_commit(group);
    }
    // Async: records refused alone were answered already, and are never
    // written. Told before anyone can see the group done.
    if (status.ok() && options_.durability == Durability::kAsync && options_.on_records_dropped) {
      size_t dropped = 0;
      for (const auto& p : batch) {
        if (!p->policy_only && !p->status.ok()) ++dropped;
      }
      if (dropped > 0) options_.on_records_dropped(dropped);
    }
    lock.lock();
    if (!refused_sha256_.empty()) {
      for (auto it = policies_.begin(); it != policies_.end(); ++it) {
        if (it->sha256 == refused_sha256_) {
          policies_.erase(it);
          break;
        }
      }
      refused_sha256_.clear();
    }
    // A log that never goes quiet still gets its work between commits done.
    if (idle_work_ && options_.between_commits) BetweenCommits(lock);
    in_flight_ = 0;
    if (status.ok()) {
      policies_.erase(policies_.begin(),
                      policies_.begin() + static_cast<std::ptrdiff_t>(policies.size()));
      committed_ = head_;
    }
    if (status.ok() && !policies.empty() && options_.on_policies_committed) {
      lock.unlock();
      options_.on_policies_committed(policies);
      lock.lock();
    }
    std::optional<absl::Status> changed;
    if (failing_ != !status.ok()) changed = status;
    failing_ = !status.ok();
    if (changed && options_.on_state) {
      lock.unlock();
      options_.on_state(*changed);
      lock.lock();
    }
    if (!status.ok() && options_.durability == Durability::kAsync) {
      // Nobody waits for the records: keep them and try again shortly.
      // Every StorePolicy waiting, however deep in the queue, hears of the
      // failure now; the sources stay queued for the next commit.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        if (!(*it)->policy_only) queue_.push_front(*it);
      }
      for (const auto& p : batch) {
        if (p->policy_only) {
          p->done = true;
          p->status = status;
        }
      }
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
      work_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_; });
      continue;
    }
    for (const auto& p : batch) p->done = true;
    done_.notify_all();
    if (options_.on_record_failed) {
      for (const auto& p : batch) {
        if (status.ok() && !p->status.ok()) {
          lock.unlock();
          options_.on_record_failed(p->record, p->status);
          lock.lock();
        }
      }
    }
    if (queue_.empty() && notices_.empty() && !notifying_) {
      // Nothing waits to be committed: answer from here and save a thread
      // hand-off (commit order holds, the notifier has nothing older).
      lock.unlock();
      for (const auto& p : batch) {
        if (p->callback) p->callback(p->status);
      }
      batch.clear();
      lock.lock();
      continue;
    }
    // Otherwise the notifier answers while the next group commits.
    notices_.push_back({std::move(batch)});
    notice_.notify_one();
  }
}

void CommitQueue::Notify() {
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
      if (p->callback) p->callback(p->status);
    }
    notice.batch.clear();
    lock.lock();
    notifying_ = false;
  }
}

absl::Status CommitQueue::CommitGroup(const std::vector<PolicySource>& policies, Batch& batch) {
  const auto fail_group = [this, &batch](absl::Status status) {
    for (const auto& p : batch) p->status = status;
    // Whatever failed, the chain's head is read again before the next
    // group: a store that lost its connection may not be where it was.
    resync_ = true;
    return status;
  };
  if (resync_) {
    absl::StatusOr<ChainHead> head = store_.ReadHead();
    if (!head.ok()) return fail_group(head.status());
    head_ = *head;
    resync_ = false;
  }
  if (absl::Status status = store_.Begin(); !status.ok()) return fail_group(status);
  for (const PolicySource& policy : policies) {
    if (absl::Status status = store_.InsertPolicy(policy); !status.ok()) {
      store_.Rollback();
      if (absl::IsFailedPrecondition(status)) {
        // Refused for good (its version is bound to another text, by
        // another writer of a shared log): its StorePolicy hears why, the
        // records of the group are tried again without it.
        refused_sha256_ = policy.sha256;
        for (const auto& p : batch) {
          p->status = p->policy_only ? status
                                     : absl::UnavailableError(absl::StrCat(
                                           "audit log: not written: ", status.message()));
        }
        resync_ = true;  // as fail_group does
        return status;
      }
      return fail_group(status);
    }
  }
  ChainHead head = head_;
  for (const auto& p : batch) {
    p->status = absl::OkStatus();
    if (p->policy_only) continue;
    AuditRecord& r = p->record;
    r.sequence = head.sequence + 1;
    r.previous_hash = head.hash;
    r.hash = ChainHash(r.previous_hash, r.sequence, p->content_hash);
    absl::Status status = store_.Insert(r);
    if (status.ok()) {
      head = {r.sequence, r.hash};
    } else if (ConcernsOneRecord(status)) {
      // This record alone: the others of the group go on.
      p->status = absl::InternalError(
          absl::StrCat("audit log: this record cannot be stored: ", status.message()));
    } else {
      store_.Rollback();
      return fail_group(status);
    }
  }
  if (absl::Status status = store_.Commit(); !status.ok()) {
    store_.Rollback();
    // Whether any of it reached the disk is not known: read the head again.
    resync_ = true;
    return fail_group(status);
  }
  head_ = std::move(head);
  return absl::OkStatus();
}

}  // namespace creditd::audit
