#pragma once

// What a decision log's storage is, whichever database holds it: a
// RecordStore the CommitQueue writes through, with the log's identity and
// its registry of versions. SqliteStore (embedded, one writer) and PgStore
// (PostgreSQL, one chain per replica) implement it.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/commit_queue.h"
#include "audit/record.h"

namespace creditd::audit {

// What identifies a log: made when the log is created, kept in it.
struct LogIdentity {
  std::string log_id;    // 32 hex digits from the OS's random source
  std::string chain_id;  // the chain this writer appends to ("main" in SQLite)
};

// What checking a chain found (VerifyLog).
struct VerifyResult {
  int64_t records = 0;  // the records read
  bool ok = true;
  int64_t first_broken = 0;  // sequence of the first record that does not verify
  std::string problem;
  ChainHead head;  // the last record read
  // Records before the first one held, removed by retention (a PostgreSQL
  // log's old partitions, archived and dropped): the chain is checked from
  // the first record held, which only a signed checkpoint of `archived`
  // records or more can vouch for (CheckLogAgainst). 0 for a log held whole.
  int64_t archived = 0;
  std::string archived_head;    // the first held record's previous hash
  std::string resumes_at_time;  // the first held record's time
  // The hash of each record asked for (by sequence) that was read.
  std::map<int64_t, std::string> hashes;
  // The stored policies and the versions bound to them, which the chain
  // does not cover, checked against it (when the chain verifies): each
  // stored text hashes to the sha256 it is stored under, each binding has
  // its text, and a version the chained decisions name is bound to the
  // sha256 they name. One line per problem, naming the version.
  std::vector<std::string> registry_problems;
  // Facts about the registry worth a reviewer's eye that prove nothing
  // wrong (a version served with several texts before bindings existed).
  std::vector<std::string> registry_notes;
};

// Checks a chain's records, given one at a time in sequence order: each
// follows the one before and hashes to its hash.
class ChainCheck {
 public:
  // `keep_hashes_of`: the sequences whose hashes to keep (checkpointed
  // counts). `may_start_later`: the chain may begin after record 1 (a log
  // whose oldest records were archived).
  ChainCheck(const std::set<int64_t>* keep_hashes_of, bool may_start_later)
      : keep_(keep_hashes_of), may_start_later_(may_start_later) {}
  // False once the chain is broken (result().problem says how).
  bool Next(const AuditRecord& r);
  VerifyResult& result() { return result_; }
  // The sha256s the chained decisions name for each name and version.
  const std::map<std::pair<std::string, std::string>, std::set<std::string>>& named() const {
    return named_;
  }

 private:
  const std::set<int64_t>* keep_;
  bool may_start_later_;
  VerifyResult result_;
  std::string previous_;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> named_;
};

// A new log's id: 32 hex digits from the OS's random source.
absl::StatusOr<std::string> NewLogId();

class LogStore : public RecordStore {
 public:
  const LogIdentity& identity() const { return identity_; }
  // The versions the log binds, each with its text (the registry of
  // record). Before the writer starts, or on its thread.
  virtual absl::StatusOr<std::vector<StoredPolicy>> ReadBindings() = 0;
  // The store's share of work between commits (CommitQueue's
  // between_commits); whether more is left.
  virtual bool StepBetweenCommits() { return false; }
  // The log is closing: answers any work still asked of the store.
  virtual void Abandon() {}
  // A test hook: while it returns an error, Begin fails with it.
  virtual void SetFaultForTesting(std::function<absl::Status()> fault) = 0;

 protected:
  LogIdentity identity_;
};

}  // namespace creditd::audit
