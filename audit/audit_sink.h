#pragma once

// The decision log: every decision creditd hands out is recorded first.
// AuditSink is the interface the server writes through; SqliteAuditSink
// (sqlite_audit.h) is the embedded implementation.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"

namespace creditd::audit {

// One logged decision. Facts are kept as received (JSON), the result as the
// decision JSON the caller got.
struct AuditRecord {
  int64_t sequence = 0;  // assigned by the log, in commit order
  std::string decision_id;
  std::string time;  // RFC 3339, UTC, milliseconds
  std::string customer_id;
  std::string request_id;
  std::string decision;
  std::string policy_name;
  std::string policy_version;
  std::string policy_sha256;
  std::string facts_json;
  std::string result_json;
  std::string previous_hash;  // the hash of the record before, "" for the first
  std::string hash;           // ChainHash(previous_hash, sequence, ContentHash(record))
};

// sha256 (hex) over every field from decision_id to result_json, each
// length-prefixed: what the record says, apart from its place in the chain.
// Computed by the caller's thread, so the log's writer only chains.
std::string ContentHash(const AuditRecord& record);

// The decision as the log keeps it: outcome, outputs and reasons as compact
// JSON (engine::DecisionToJson without scorecards or trace; both are
// reproduced exactly by replaying the record against its policy source). The
// server logs this and `creditctl audit replay` compares against it.
std::string LoggedResult(const engine::Decision& decision);

// The hash that chains a record to its predecessor: sha256 (hex) over the
// previous record's hash, the record's sequence and its content hash.
std::string ChainHash(const std::string& previous_hash, int64_t sequence,
                      const std::string& content_hash);

// ChainHash over the record's own fields: what `hash` must equal.
std::string RecordHash(const AuditRecord& record);

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Stores a policy's canonical source, once per sha256, so any logged
  // decision can be re-run against the exact text that produced it.
  virtual absl::Status StorePolicy(const engine::CompiledPolicy& policy) = 0;
  // Appends a record (sequence, previous_hash and hash are filled in by the
  // log). In durable mode returns only once the record is committed;
  // Unavailable when it cannot be written, and nothing is logged then.
  virtual absl::Status Append(AuditRecord record) = 0;
  // The same without blocking: `done` runs (on the log's thread) once the
  // record is committed (durable mode) or accepted (async mode), or with
  // Unavailable when it cannot be written. It must not block.
  virtual void AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) = 0;
  // Writes out anything accepted but not yet committed (async mode).
  virtual absl::Status Flush() = 0;
};

}  // namespace creditd::audit
