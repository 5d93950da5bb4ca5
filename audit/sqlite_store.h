#pragma once

// The audit log's storage in SQLite, and the functions that read a log.
// SQLite stays in audit/: nothing else includes sqlite3.h.

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/commit_queue.h"
#include "audit/log_store.h"
#include "audit/record.h"

struct sqlite3;
struct sqlite3_stmt;

namespace creditd::audit {

struct StoreOptions {
  Durability durability = Durability::kDurable;  // FULL or NORMAL fsync
  // For tests of a stalled disk: while a file exists at this path, Begin
  // waits. Empty (the default): never.
  std::string stall_while_file_exists;
};

// SQLite in WAL mode, held exclusively by its one connection for as long as
// it is open (SQLite's exclusive locking mode): no second writer can open
// the log, and the WAL index lives in this process's memory rather than in a
// shared "-shm" file another process could truncate or make unwritable under
// it (which ends a process with SIGBUS). Other processes read a consistent
// copy made by Snapshot. The table of record fields (kRecordFields) makes
// the schema, the migrations of older logs, the insert and the reader.
class SqliteStore : public LogStore {
 public:
  // Opens (creating if needed) the log at `path`. FailedPrecondition when
  // another process holds it.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           const StoreOptions& options);
  ~SqliteStore() override;

  absl::StatusOr<ChainHead> ReadHead() override;
  absl::Status Begin() override;
  absl::Status InsertPolicy(const PolicySource& policy) override;
  absl::Status Insert(const AuditRecord& record) override;
  absl::Status Commit() override;
  void Rollback() override;

  absl::StatusOr<std::vector<StoredPolicy>> ReadBindings() override;

  // Asks for a copy of the log at `path` (through `path`.tmp, renamed when
  // complete); `done` runs on the writer's thread with the result. Any
  // thread.
  void RequestSnapshot(std::string path, std::function<void(absl::Status)> done);
  // The writer's share of snapshot work, between commits: starts a
  // requested copy, copies a few pages, finishes it. Whether more is left.
  bool StepSnapshot();
  bool StepBetweenCommits() override { return StepSnapshot(); }
  // Answers snapshot requests not finished (the log is closing).
  void AbandonSnapshots();
  void Abandon() override { AbandonSnapshots(); }
  void Interrupt() override;

  void SetFaultForTesting(std::function<absl::Status()> fault) override;

 private:
  struct SnapshotRequest {
    std::string path;
    std::function<void(absl::Status)> done;
  };
  struct SnapshotCopy;

  SqliteStore(sqlite3* db, const StoreOptions& options);
  absl::Status Prepare();

  sqlite3* db_;
  StoreOptions options_;
  sqlite3_stmt* insert_ = nullptr;         // kept prepared for the log's lifetime
  sqlite3_stmt* insert_policy_ = nullptr;  // likewise
  std::atomic<bool> interrupted_{false};
  std::mutex mutex_;  // guards the two below
  std::function<absl::Status()> fault_;
  std::deque<SnapshotRequest> snapshot_requests_;
  std::unique_ptr<SnapshotCopy> snapshot_;  // the writer's alone
};

// Reads and checks a log. Each function opens the database read-only; a log
// a running creditd holds cannot be read (FailedPrecondition, naming the
// snapshot to read instead). A log that cannot be read to its end is an
// error (DataLoss), never a shorter log.
//
// Each function takes a log's location (audit/log_location.h): a SQLite
// file, or a PostgreSQL database, whose records of every chain are read in
// the order they were written, each naming its chain (AuditRecord::chain).
absl::StatusOr<VerifyResult> VerifyLog(const std::string& path,
                                       const std::set<int64_t>& keep_hashes_of = {});
// The chains of a log: a SQLite log's one ("main"), or a PostgreSQL log's,
// one per replica that wrote it, by id.
absl::StatusOr<std::vector<std::string>> ListChains(const std::string& path);
// VerifyLog of one chain (a SQLite log's one chain is VerifyLog). A chain
// whose oldest records were archived verifies from its first record held
// (VerifyResult::archived).
absl::StatusOr<VerifyResult> VerifyChain(const std::string& path, const std::string& chain,
                                         const std::set<int64_t>& keep_hashes_of = {});
absl::StatusOr<std::optional<AuditRecord>> ReadRecord(const std::string& path,
                                                      const std::string& decision_id);
// Calls `visit` for every record in order; stops early when it returns false.
// Each record is the visitor's: it may move from it.
absl::Status ForEachRecord(const std::string& path, const std::function<bool(AuditRecord&)>& visit);
// The canonical source stored for a policy sha256.
absl::StatusOr<std::string> ReadPolicySource(const std::string& path, const std::string& sha256);
// Every version the log at `path` has bound, with its text, as
// SqliteAuditSink::StoredVersions gives them; a log no creditd of this
// version has opened yet reads as it will once opened (its migration binds
// each version to the text of its earliest record).
absl::StatusOr<std::vector<StoredPolicy>> ReadStoredVersions(const std::string& path);
// The log's identity; logs created before it was kept have none (NotFound).
absl::StatusOr<LogIdentity> ReadLogIdentity(const std::string& path);
// The identity of one chain of the log.
absl::StatusOr<LogIdentity> ReadChainIdentity(const std::string& path, const std::string& chain);

// Which records a filtered read yields: a record matches when it matches
// every field that is set. Values are compared exactly, byte for byte.
struct RecordFilter {
  // Bounds on the record's time, each RFC 3339 with an offset or a date
  // (YYYY-MM-DD, midnight UTC), as LogTimeBound takes them: `since` is
  // inclusive, `until` exclusive, so `since` 2026-11-01 `until` 2026-12-01
  // is November, UTC.
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::optional<std::string> decision;  // the decision's name
  std::optional<std::string> customer_id;
  // The decision's outcome: from format 5 the record's outcome field,
  // before it the result's top-level "outcome" string (by SQLite's
  // json_extract). A record without one (a reload, a result that is not
  // JSON) never matches.
  std::optional<std::string> outcome;
  std::optional<std::string> policy_version;
  std::optional<std::string> kind;  // kDecisionRecord or kReloadRecord
};

// A filter as conditions on the record's columns, each `column op value`
// ("time" >= and <, every other field =), in the filter's order: what each
// store's SQL is made from. InvalidArgument for a time bound LogTimeBound
// refuses (naming `since` or `until`).
struct FilterTerm {
  const char* column;
  const char* op;
  std::string value;
};
absl::StatusOr<std::vector<FilterTerm>> FilterTerms(const RecordFilter& filter);

// Calls `visit` for every record that matches `filter`, in sequence order;
// stops early when it returns false. Opens the log read-only, as the
// functions above: FailedPrecondition for a log a running creditd holds,
// InvalidArgument for a time bound LogTimeBound refuses (naming `since` or
// `until`), DataLoss when the log cannot be read to its end, never fewer
// records reported as all of them.
absl::Status ForEachMatchingRecord(const std::string& path, const RecordFilter& filter,
                                   const std::function<bool(AuditRecord&)>& visit);

// How many records match `filter` (what ForEachMatchingRecord would visit),
// with the same errors; for progress reports.
absl::StatusOr<int64_t> CountMatchingRecords(const std::string& path, const RecordFilter& filter);

// Reads the records that match a filter one range of sequences at a time, on
// a connection of its own: for a reader that splits a log between threads,
// each with its own RecordRanges (one thread at a time may use one). Open
// has ForEachMatchingRecord's errors, and so has ForEach: DataLoss, naming
// the last record read, when its range cannot be read to its end.
class RecordRanges {
 public:
  // Of each record, only the sequence, the format and `fields` are read
  // (every field when empty); the others keep AuditRecord's defaults.
  static absl::StatusOr<std::unique_ptr<RecordRanges>> Open(
      const std::string& path, const RecordFilter& filter,
      std::vector<std::string AuditRecord::*> fields = {});
  virtual ~RecordRanges() = default;
  RecordRanges(const RecordRanges&) = delete;
  RecordRanges& operator=(const RecordRanges&) = delete;

  // The lowest and the highest position in the log, matching or not, when
  // it was opened; first > last for a log without records. In a SQLite log
  // a position is the record's sequence; in a PostgreSQL log, which holds a
  // chain per replica, the order records were written in, across chains.
  int64_t first_sequence() const { return first_; }
  int64_t last_sequence() const { return last_; }

  // Calls `visit` for every record that matches with `first` <= position
  // <= `last`, in order; stops early when it returns false. One record is
  // filled in turn, keeping its buffers from one to the next, so that
  // reading allocates little; the visitor may move from it.
  virtual absl::Status ForEach(int64_t first, int64_t last,
                               const std::function<bool(AuditRecord&)>& visit) = 0;

 protected:
  RecordRanges() = default;
  int64_t first_ = 1, last_ = 0;
};

}  // namespace creditd::audit
