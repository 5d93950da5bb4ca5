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
  SqliteStore* raw = store->get();
  auto sink = std::unique_ptr<SqliteAuditSink>(new SqliteAuditSink(std::move(*store), raw));
  if (absl::Status status = sink->Start(options); !status.ok()) return status;
  return sink;
}

void SqliteAuditSink::Snapshot(std::string path, std::function<void(absl::Status)> done) {
  sqlite_->RequestSnapshot(std::move(path), std::move(done));
  Wake();
}

}  // namespace creditd::audit
