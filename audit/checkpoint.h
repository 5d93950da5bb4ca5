#pragma once

// Signed checkpoints of the decision log: tamper evidence that does not
// trust the database. A checkpoint says "log L, chain C, had N records and
// its newest hash was H at time T", signed with Ed25519 (crypto/ed25519.h). It is
// a small text note, in the spirit of transparency-log checkpoints:
//
//   creditd audit log checkpoint
//   log 6f1c0e...            (the log's id, 32 hex digits)
//   chain main
//   records 1234
//   head 9ab3...             (record 1234's hash, 64 hex digits)
//   time 2026-11-30T13:50:00Z
//
//   — creditd <base64 of the key's 4-byte id and the 64-byte signature>
//
// The signature covers every line above the blank one, newlines included.
// A log checked against its checkpoints shows records cut off (fewer records
// than a checkpoint counts), rewritten (another head at a checkpointed
// count) and forked (two signed checkpoints that cannot both be prefixes of
// one chain). Records written after the newest checkpoint are covered by
// nothing: they can be cut without a trace.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/commit_queue.h"
#include "audit/sqlite_store.h"

namespace creditd::audit {

struct Checkpoint {
  std::string log_id;
  std::string chain_id;
  int64_t records = 0;
  std::string head;  // the hash of record `records` ("" for none)
  std::string time;  // RFC 3339, UTC, when it was signed
};

// The text a checkpoint's signature covers.
std::string CheckpointBody(const Checkpoint& checkpoint);

// An Ed25519 key pair's public half, or both halves, from PEM files (as
// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write).
class CheckpointKey {
 public:
  static absl::StatusOr<CheckpointKey> FromPrivateKeyFile(const std::string& path);
  static absl::StatusOr<CheckpointKey> FromPublicKeyFile(const std::string& path);
  CheckpointKey(CheckpointKey&&) noexcept;
  CheckpointKey& operator=(CheckpointKey&&) noexcept;
  ~CheckpointKey();

  // The first 4 bytes of sha256 over the raw public key, in hex: names the
  // key in notes and messages.
  const std::string& id() const { return id_; }
  bool can_sign() const { return can_sign_; }

  // The note: CheckpointBody, a blank line, the signature line.
  absl::StatusOr<std::string> Sign(const Checkpoint& checkpoint) const;
  // Parses a note and checks its signature: InvalidArgument for a note that
  // is not a checkpoint, PermissionDenied for one this key did not sign.
  absl::StatusOr<Checkpoint> Open(const std::string& note) const;

 private:
  CheckpointKey() = default;
  struct Key;
  std::unique_ptr<Key> key_;
  std::string id_;
  bool can_sign_ = false;
};

// Writes a note to `dir` as RECORDS-HEAD.checkpoint (through a temporary
// file, synced and renamed), so two notes for one count never overwrite
// each other. Returns the file's name.
absl::StatusOr<std::string> WriteCheckpointNote(const std::string& dir,
                                                const Checkpoint& checkpoint,
                                                const std::string& note);

// Every *.checkpoint file of `dir`, opened with `key`. Files the key did
// not sign, or that are not checkpoints, are listed in `refused` with why.
struct CheckpointFile {
  std::string file;  // its name in the directory
  Checkpoint checkpoint;
};
struct CheckpointDir {
  std::vector<CheckpointFile> checkpoints;  // by records, then file name
  std::vector<std::string> refused;         // "FILE: why"
};
absl::StatusOr<CheckpointDir> ReadCheckpointDir(const std::string& dir, const CheckpointKey& key);

// What checking a log against its checkpoints found.
struct CheckpointProblem {
  enum class Kind { kTruncated, kRewritten, kForked, kOtherLog };
  Kind kind;
  int64_t first_record = 0;  // the first record concerned
  std::string message;
};
struct CheckpointReport {
  int checked = 0;      // checkpoints of this log and chain
  int64_t covered = 0;  // records covered by the newest checkpoint the log agrees with
  std::vector<CheckpointProblem> problems;
};
// `records` is how long the chain is (its last sequence) and `hashes` the
// hash of the record at each checkpointed count the log reaches (VerifyLog
// collects them). `archived`: records 1 to `archived` were removed by
// retention; then a checkpoint of `archived` records or more must agree
// with the log (the records held are the ones it signed, from where the
// chain resumes), and older checkpoints are not compared.
CheckpointReport CheckLogAgainst(const std::vector<CheckpointFile>& checkpoints,
                                 const LogIdentity& log, int64_t records,
                                 const std::map<int64_t, std::string>& hashes,
                                 int64_t archived = 0);

// Signs the log's head into a directory every `interval` (when it has
// changed), once at Start and once at Stop.
struct CheckpointerOptions {
  std::string dir;
  absl::Duration interval = absl::Seconds(60);
  // Where each written file, and each failure, is told.
  std::function<void(const std::string& file)> on_written;
  std::function<void(const absl::Status&)> on_error;
};
class Checkpointer {
 public:
  Checkpointer(CheckpointKey key, LogIdentity log, std::function<ChainHead()> head,
               CheckpointerOptions options);
  ~Checkpointer();
  // Creates the directory if needed, writes a checkpoint, starts the thread.
  absl::Status Start();
  // Stops the thread and writes a last checkpoint (of the head as it is now).
  absl::Status Stop();
  // Writes a checkpoint of the head unless the last one written has it.
  absl::Status WriteNow();

 private:
  void Run();

  CheckpointKey key_;
  LogIdentity log_;
  std::function<ChainHead()> head_;
  CheckpointerOptions options_;
  absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  ChainHead written_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

}  // namespace creditd::audit
