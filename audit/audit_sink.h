#pragma once

// The decision log: every decision creditd hands out is recorded first.
// AuditSink is the interface the server writes through; SqliteAuditSink
// (sqlite_audit.h) is the embedded implementation.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "audit/record.h"

namespace creditd::audit {

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Stores a policy's canonical source, once per sha256, so any logged
  // decision can be re-run against the exact text that produced it.
  virtual absl::Status StorePolicy(PolicySource policy) = 0;
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
