#pragma once

// The decision log: every decision creditd hands out is recorded first.
// AuditSink is the interface the server writes through; SqliteAuditSink
// (sqlite_audit.h) is the embedded implementation.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/record.h"

namespace creditd::audit {

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Stores a policy's canonical source, once per sha256, so any logged
  // decision can be re-run against the exact text that produced it, and
  // binds its name and version to its sha256 in the same commit. Call it
  // only for a version about to serve: the texts of refused loads are never
  // stored. A version bound already to this sha256 is OK at once;
  // FailedPrecondition, with nothing stored, when its name and version are
  // bound (or waiting to be) to another sha256.
  virtual absl::Status StorePolicy(PolicySource policy) = 0;
  // Every version the log has bound, by name and version, each with the
  // text stored for it: what a restarted server serves pinned requests
  // from. Reads what the open log holds; opens nothing.
  virtual absl::StatusOr<std::vector<StoredPolicy>> StoredVersions() = 0;
  // Appends a record (sequence, previous_hash and hash are filled in by the
  // log). In durable mode returns only once the record is committed;
  // Unavailable when it cannot be written, and nothing is logged then.
  virtual absl::Status Append(AuditRecord record) = 0;
  // The same without blocking: `done` runs once the record is committed
  // (durable mode) or accepted (async mode), or with Unavailable when it
  // cannot be written or the queue of records waiting to be written is full;
  // on a thread of the log's, or the caller's own (async mode, a full queue).
  // It must not block.
  virtual void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) = 0;
  // Writes out anything accepted but not yet committed (async mode). Returns
  // once records are committed; AppendAsync callbacks may still be running.
  virtual absl::Status Flush() = 0;
};

}  // namespace creditd::audit
