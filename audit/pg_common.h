#pragma once

// What the PostgreSQL log's writer (pg_store.cc) and readers (pg_read.cc)
// share: connections, parameters and results of libpq. Internal to audit/.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/record.h"

namespace creditd::audit::pg {

// The schema every table of the log is in.
inline constexpr char kSchema[] = "creditd";
// The first key of the chains' advisory locks ("cred"); the second is the
// chain's lock_key.
inline constexpr int kLockClass = 0x63726564;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;
struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

// Connects to `location` (checked: no password), with a connect timeout of
// 10 s and the application name `application` unless the location sets
// them. Unavailable, naming the location as it may be shown, when it fails.
absl::StatusOr<Conn> Connect(const std::string& location, const char* application);

// The connection's last error, on one line.
std::string ErrorOf(const PGconn* conn);

// Parameters of a statement: text, or bytes sent as binary (bytea).
class Params {
 public:
  Params& Text(std::string value);
  Params& Bytes(std::string value);
  Params& Int(int64_t value) { return Text(std::to_string(value)); }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return pointers_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }
  // Points at the values held (after the last Text or Bytes).
  void Seal();

 private:
  std::vector<std::string> values_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Runs `sql` with `params` (results in binary). `what` says what failed.
// FailedPrecondition when the log's schema is missing (never migrated),
// Unavailable when the connection is lost, DataLoss for other errors.
absl::StatusOr<Result> Exec(PGconn* conn, const std::string& sql, Params params,
                            absl::string_view what);
// The status a failed result (or a lost connection) stands for; as Exec.
absl::Status StatusOf(PGconn* conn, const PGresult* result, absl::string_view what);

// A column of a binary result: bytes as stored; an integer (int2, int4 or
// int8); a boolean.
std::string Bytes(const PGresult* r, int row, int column);
int64_t Int(const PGresult* r, int row, int column);

// The columns of a record, in the order RecordAt reads them: sequence,
// kRecordFields, previous_hash, hash, and the chain id.
std::string RecordColumns(absl::string_view prefix = "");
// Reads a row of RecordColumns from column `first` on. The record's format
// is left for the caller.
void RecordAt(const PGresult* r, int row, int first, AuditRecord* record);
// Number of columns RecordColumns selects.
int RecordColumnCount();

// The chain's record formats: from which sequence each applies.
absl::StatusOr<std::vector<std::pair<int64_t, int>>> ChainFormats(PGconn* conn,
                                                                  const std::string& chain);

// The log's id (log_info); FailedPrecondition when the schema is missing or
// not of this build's version.
absl::StatusOr<std::string> CheckSchema(PGconn* conn, const std::string& shown);

// The versions the log binds, each with its text, checked against its
// sha256 (DataLoss for a missing or changed text).
absl::StatusOr<std::vector<StoredPolicy>> ReadBindings(PGconn* conn);

}  // namespace creditd::audit::pg
