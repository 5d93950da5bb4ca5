#pragma once

// The decision log in PostgreSQL (libpq), shared by the replicas of a
// creditd deployment. Each replica appends to a chain of its own (its
// --replica_id), numbered from 1, so replicas never wait on each other;
// a session-level advisory lock per chain keeps a second process off a
// chain another one writes. Policy texts and the registry of versions are
// shared: a version names one text across every replica, forever.
//
// The schema lives in the `creditd` schema and is made by MigratePostgres,
// run with the owner role (`creditctl audit migrate`); creditd's own role
// needs only SELECT and INSERT, and triggers refuse UPDATE, DELETE and
// TRUNCATE. Records are partitioned by month of their time, so that old
// months can be archived and dropped: a chain verifies from a signed
// checkpoint onward (VerifyResult::archived).
//
// libpq stays in audit/: nothing else includes libpq-fe.h.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/commit_queue.h"
#include "audit/log_store.h"
#include "audit/record.h"

struct pg_conn;
struct pg_cancel;

namespace creditd::audit {

// The schema version this build writes and reads.
constexpr int kPostgresSchemaVersion = 1;

// InvalidArgument unless `chain` is 1 to 64 of [A-Za-z0-9._-] (it names
// the chain in checkpoints and file names).
absl::Status CheckChainId(const std::string& chain);

struct PgStoreOptions {
  Durability durability = Durability::kDurable;  // synchronous_commit on or off
  std::string chain_id;                          // the replica's chain
};

class PgStore : public LogStore {
 public:
  // Connects, checks the schema is this build's, takes the chain's lock.
  // FailedPrecondition when another process holds the chain or the schema
  // is missing or of another version; Unavailable when the database cannot
  // be reached; InvalidArgument for a bad location or chain id.
  static absl::StatusOr<std::unique_ptr<PgStore>> Open(const std::string& location,
                                                       const PgStoreOptions& options);
  ~PgStore() override;

  absl::StatusOr<ChainHead> ReadHead() override;
  // Reconnects first when the connection was lost (taking the chain's lock
  // again: Unavailable while another process holds it).
  absl::Status Begin() override;
  absl::Status InsertPolicy(const PolicySource& policy) override;
  // Records are sent at Commit, in one round trip with it, and an error of
  // any record fails the group; the next group is then written record by
  // record (as after connecting), its first record checked against the
  // chain's head in the database (another process may have written it:
  // Unavailable, and the writer reads the head again), and a record whose
  // decision id and time the log holds already fails alone (AlreadyExists).
  absl::Status Insert(const AuditRecord& record) override;
  absl::Status Commit() override;
  void Rollback() override;
  // Cancels what the connection is waiting for; Begin fails from then on.
  void Interrupt() override;
  absl::StatusOr<std::vector<StoredPolicy>> ReadBindings() override;
  void SetFaultForTesting(std::function<absl::Status()> fault) override;

 private:
  PgStore(std::string location, PgStoreOptions options);
  // Connects (or reconnects): session settings, the chain's lock, the
  // prepared statements.
  absl::Status Connect();
  absl::Status EnsureConnected();
  void Disconnect();

  const std::string location_;
  const PgStoreOptions options_;
  pg_conn* conn_ = nullptr;
  int lock_key_ = 0;    // the chain's advisory lock
  bool began_ = false;  // BEGIN sent (policies go first)
  // Inserting record by record, each answered, with the chain's head
  // checked first: after connecting and after a failed group. Otherwise a
  // group's records are pipelined with its COMMIT.
  bool careful_ = true;
  bool head_checked_ = false;                // in careful mode, this group's
  int inserted_ = 0;                         // in careful mode, this group's
  std::vector<const AuditRecord*> pending_;  // the group's records, until Commit
  std::atomic<bool> interrupted_{false};
  std::mutex mutex_;  // guards the two below
  pg_cancel* cancel_ = nullptr;
  std::function<absl::Status()> fault_;
};

// Creates the schema, or brings it to this build's version; adds the
// month partitions from the current month to `months_ahead` after it; with
// `grant_role`, grants that role what creditd needs (USAGE on the schema,
// SELECT and INSERT on its tables) and nothing more. Run with the owner
// role. Idempotent.
struct MigrateOptions {
  std::string grant_role;
  int months_ahead = 3;
  absl::Time now = absl::Now();
};
struct MigrateResult {
  int from_version = 0;  // 0: there was no schema
  int to_version = 0;
  std::string log_id;
  std::vector<std::string> partitions_added;
  // Months whose partition could not be added because records of the
  // month went to the default partition (migrate ran late): what and why.
  std::vector<std::string> partitions_skipped;
};
absl::StatusOr<MigrateResult> MigratePostgres(const std::string& location,
                                              const MigrateOptions& options);

}  // namespace creditd::audit
