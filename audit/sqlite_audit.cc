#include "audit/sqlite_audit.h"

#include <utility>

namespace creditd::audit {

absl::StatusOr<std::unique_ptr<SqliteAuditSink>> SqliteAuditSink::Open(
    const std::string& path, const SqliteOptions& options) {
  StoreOptions store_options;
  store_options.durability = options.durability;
  store_options.stall_while_file_exists = options.stall_while_file_exists;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, store_options);
  if (!store.ok()) return store.status();
  auto sink = std::unique_ptr<SqliteAuditSink>(new SqliteAuditSink(std::move(*store)));
  QueueOptions queue_options = options;
  queue_options.between_commits = [store = sink->store_.get()] { return store->StepSnapshot(); };
  sink->queue_ = std::make_unique<CommitQueue>(*sink->store_, std::move(queue_options));
  if (absl::Status status = sink->queue_->Start(); !status.ok()) return status;
  return sink;
}

SqliteAuditSink::~SqliteAuditSink() {
  queue_.reset();
  store_->AbandonSnapshots();
}

absl::Status SqliteAuditSink::StorePolicy(PolicySource policy) {
  return queue_->StorePolicy(std::move(policy));
}

absl::Status SqliteAuditSink::Append(AuditRecord record) {
  return queue_->Append(std::move(record));
}

void SqliteAuditSink::AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) {
  queue_->AppendAsync(std::move(record), std::move(done));
}

absl::Status SqliteAuditSink::Flush() { return queue_->Flush(); }

absl::Status SqliteAuditSink::Close(absl::Duration timeout) { return queue_->Close(timeout); }

void SqliteAuditSink::Snapshot(std::string path, std::function<void(absl::Status)> done) {
  store_->RequestSnapshot(std::move(path), std::move(done));
  queue_->Wake();
}

void SqliteAuditSink::SetFaultForTesting(std::function<absl::Status()> fault) {
  store_->SetFaultForTesting(std::move(fault));
}

}  // namespace creditd::audit
