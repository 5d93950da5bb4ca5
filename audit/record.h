#pragma once

// A record of the decision log and how it is hashed. One table of fields
// (kRecordFields) says what a record holds; the store's schema, its SQL,
// the binder, the reader and the content hash are all made from it.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace creditd::audit {

// The log's record formats. 1: `hash` is sha256 over the previous hash and
// every field, and the result JSON includes the scorecards (logs written
// before format 2). 2: `hash` chains ContentHash (below), and the result is
// JSON without scorecards. 3: the record also names its kind and the
// caller's identity, both covered by ContentHash, and facts were converted
// strictly (no int given as a decimal, no percent given as an int). 4:
// ContentHash covers the record's format as well, so the table that says
// which format applies from which record on cannot be changed without
// breaking the chain. 5: a decision's facts are the engine's canonical text
// of the facts it evaluated (engine/facts_codec.h), and its result is the
// credit.v1.Decision the caller received, in protobuf's deterministic
// serialization (binary; kept as a BLOB), and the record names the
// decision's outcome in a field of its own (what reviewers filter on). 6: a
// decision record also holds what a challenger version decided alongside
// (creditd --challenger): a credit.v1.ChallengerResult's deterministic
// bytes (a BLOB), empty when no challenger ran. 7: the record names the
// trusted L7 balancer a call came through (`via`), empty for a direct
// caller. A log records from which
// sequence each format applies, so a log begun in an earlier format verifies and replays across the
// change.
constexpr int kFirstLogFormat = 1;
constexpr int kLogFormat = 7;
// From this format on, replay converts facts strictly.
constexpr int kStrictFactsFormat = 3;
// From this format on, ContentHash covers the format itself.
constexpr int kHashedFormatFormat = 4;
// From this format on, a decision holds canonical facts and the answer as
// sent.
constexpr int kAnswerAsSentFormat = 5;
// From this format on, a decision record may hold a challenger's result.
constexpr int kChallengerFormat = 6;
// From this format on, a record names the balancer a call came through.
constexpr int kViaFormat = 7;

// What a record is: a decision made for a caller, or an administrative act
// (a policy reload, with who asked for it and its result).
inline constexpr char kDecisionRecord[] = "decision";
inline constexpr char kReloadRecord[] = "reload";

// One logged decision (or reload). Up to format 4 the facts are JSON as
// received and the result JSON (see the formats above); from format 5 the
// facts are their canonical text and a decision's result the protobuf bytes
// of the answer. Every field is stored and read back byte for byte, NUL
// bytes included.
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
  std::string facts_json;   // JSON in every format
  std::string result_json;  // JSON, or from format 5 a decision's protobuf bytes
  // From format 3: kDecisionRecord or kReloadRecord, and who asked (the
  // caller's identity from its certificate or token, "anonymous" without
  // one, "signal" or "watch" for a reload the server started itself).
  std::string kind = kDecisionRecord;
  std::string caller;
  // From format 5: a decision's outcome, as in its result ("" for a reload).
  std::string outcome;
  // From format 6: the credit.v1.ChallengerResult bytes of a challenger
  // evaluated alongside; empty when none was.
  std::string challenger;
  // From format 7: the trusted balancer that forwarded the caller's
  // certificate (its own identity); empty for a direct caller.
  std::string via;
  std::string previous_hash;  // the hash of the record before, "" for the first
  std::string hash;           // RecordHash(record)
  int format = kLogFormat;    // the record format it was written in
  // The chain a reader found it in: a PostgreSQL log's replica chain, ""
  // in a SQLite log (one chain). Where the record is, not what it says:
  // neither stored as a field nor hashed.
  std::string chain;
};

// A policy's canonical source (the policy and its imports, each file under
// a "=== path" line), stored once per sha256 so that any logged decision can
// be re-run against the exact text that made it.
struct PolicySource {
  std::string sha256, name, version, source;
  int canonical_form = 1;    // the canonical form `source` is in
  std::string first_served;  // set by the log: when it was asked to store it
};

// A field of a record's content: its column in the store, where it lives in
// AuditRecord, the first format that has it, (for fields added after format
// 1) the SQL default that older records read as, and whether no two records
// may share its value.
struct RecordField {
  const char* column;
  std::string AuditRecord::*member;
  int since_format;
  const char* default_sql;  // nullptr: present since the first format
  bool unique;
};

// In hashing order.
inline constexpr RecordField kRecordFields[] = {
    {"decision_id", &AuditRecord::decision_id, 1, nullptr, true},
    {"time", &AuditRecord::time, 1, nullptr, false},
    {"customer_id", &AuditRecord::customer_id, 1, nullptr, false},
    {"request_id", &AuditRecord::request_id, 1, nullptr, false},
    {"decision", &AuditRecord::decision, 1, nullptr, false},
    {"policy_name", &AuditRecord::policy_name, 1, nullptr, false},
    {"policy_version", &AuditRecord::policy_version, 1, nullptr, false},
    {"policy_sha256", &AuditRecord::policy_sha256, 1, nullptr, false},
    {"facts", &AuditRecord::facts_json, 1, nullptr, false},
    {"result", &AuditRecord::result_json, 1, nullptr, false},
    {"kind", &AuditRecord::kind, 3, "'decision'", false},
    {"caller", &AuditRecord::caller, 3, "''", false},
    {"outcome", &AuditRecord::outcome, 5, "''", false},
    {"challenger", &AuditRecord::challenger, 6, "''", false},
    {"via", &AuditRecord::via, 7, "''", false},
};

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

// Whether the record's result is the protobuf bytes of the answer (a
// decision from format 5) rather than JSON.
bool ResultIsAnswerBytes(const AuditRecord& record);

// Whether the store keeps `field` of `record` as bytes (a BLOB) rather than
// text: the result when ResultIsAnswerBytes, and a challenger's result. Readers get the same bytes
// back either way, and the hashes cover exactly those bytes.
bool IsBinaryField(const RecordField& field, const AuditRecord& record);

// sha256 (hex) over the record's fields of its format (kRecordFields), each
// length-prefixed, and from format 4 the format number: what the record
// says, apart from its place in the chain. Computed by the caller's thread,
// so the log's writer only chains.
std::string ContentHash(const AuditRecord& record);

// The hash that chains a record to its predecessor: sha256 (hex) over the
// previous record's hash, the record's sequence and its content hash.
std::string ChainHash(const std::string& previous_hash, int64_t sequence,
                      const std::string& content_hash);

// What the record's `hash` must equal in its format: ChainHash over its own
// fields from format 2, the single sha256 over every field in format 1.
std::string RecordHash(const AuditRecord& record);

// A bound for record times, written as the log writes times (RFC 3339 in
// UTC with milliseconds, "2026-11-22T10:00:00.000Z"), so that comparing the
// texts compares the times. `text` is RFC 3339 with its offset ("Z",
// "+02:00") and any fraction of a second, or a date, YYYY-MM-DD, for
// midnight UTC that day. A time between two milliseconds is rounded up to
// the later one, which keeps both an inclusive lower bound and an exclusive
// upper bound exact. InvalidArgument for anything else, or a time whose UTC
// year is outside 0000-9999.
absl::StatusOr<std::string> LogTimeBound(absl::string_view text);

// Now, written as the log writes times (RFC 3339 in UTC, milliseconds).
std::string LogTimeNow();

// The record format of the record at `sequence`, given from which sequence
// each format applies (ascending; a log without any is format 1 throughout).
int FormatOf(const std::vector<std::pair<int64_t, int>>& formats, int64_t sequence);

}  // namespace creditd::audit
