#pragma once

// The decision log: every decision creditd hands out is recorded first.
// AuditSink is the interface the server writes through; SqliteAuditSink
// (sqlite_audit.h) is the embedded implementation.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"

namespace creditd::audit {

// The log's record formats. 1: `hash` is sha256 over the previous hash and
// every field, and the result JSON includes the scorecards (logs written
// before format 2). 2: `hash` chains ContentHash (below), and the result is
// LoggedResult. 3: the record also names its kind and the caller's identity,
// both covered by ContentHash, and facts were converted strictly (no int
// given as a decimal, no percent given as an int). A log records from which
// sequence each format applies, so a log begun in an earlier format verifies
// and replays across the change.
constexpr int kFirstLogFormat = 1;
constexpr int kLogFormat = 3;
// From this format on, replay converts facts strictly.
constexpr int kStrictFactsFormat = 3;

// What a record is: a decision made for a caller, or an administrative act
// (a policy reload, with who asked for it and its result).
inline constexpr char kDecisionRecord[] = "decision";
inline constexpr char kReloadRecord[] = "reload";

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
  // From format 3: kDecisionRecord or kReloadRecord, and who asked (the
  // caller's identity from its certificate or token, "anonymous" without
  // one, "signal" or "watch" for a reload the server started itself).
  std::string kind = kDecisionRecord;
  std::string caller;
  std::string previous_hash;  // the hash of the record before, "" for the first
  std::string hash;           // RecordHash(record)
  int format = kLogFormat;    // the record format it was written in (not hashed)
};

// sha256 (hex) over every field from decision_id to result_json (and from
// format 3 kind and caller), each length-prefixed: what the record says,
// apart from its place in the chain. Computed by the caller's thread, so the
// log's writer only chains.
std::string ContentHash(const AuditRecord& record);

// The decision as the log keeps it, in record format `format`: outcome,
// outputs and reasons as compact JSON (engine::DecisionToJson without the
// trace, and from format 2 without scorecards, which replay reproduces
// exactly). The server logs this and `creditctl audit replay` compares
// against it.
std::string LoggedResult(const engine::Decision& decision, int format = kLogFormat);

// The hash that chains a record to its predecessor: sha256 (hex) over the
// previous record's hash, the record's sequence and its content hash.
std::string ChainHash(const std::string& previous_hash, int64_t sequence,
                      const std::string& content_hash);

// What the record's `hash` must equal in its format: ChainHash over its own
// fields in format 2, the single sha256 over every field in format 1.
std::string RecordHash(const AuditRecord& record);

// A policy version as the log binds it: the registry of record. The first
// time a version is stored, its name and version are bound to its sha256,
// forever, across restarts; the text stored under that sha256 is what
// pinned requests and replay rebuild it from.
struct StoredPolicy {
  std::string name;
  std::string version;
  std::string sha256;
  std::string source;  // the canonical source, exactly as stored
  // The canonical form the source is in (engine::kCanonicalForm when it
  // was stored; logs from before the form was recorded hold form 1).
  int canonical_form = 1;
  // When it was first served (bound): RFC 3339 in UTC, milliseconds.
  std::string first_served;
};

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
  virtual absl::Status StorePolicy(const engine::CompiledPolicy& policy) = 0;
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
