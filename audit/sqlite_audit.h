#pragma once

// The embedded audit log: a LogSink writing to a SqliteStore.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "audit/log_sink.h"
#include "audit/sqlite_store.h"

namespace creditd::audit {

// The queue's options (durability, batch, bound, what it tells), and the
// store's one test hook.
struct SqliteOptions : QueueOptions {
  // For tests of a stalled disk: while a file exists at this path, the
  // writer waits before each commit. Empty (the default): never.
  std::string stall_while_file_exists;
};

// The log is held exclusively while open (SqliteStore).
class SqliteAuditSink : public LogSink {
 public:
  // Opens (creating if needed) the log at `path`; FailedPrecondition when
  // another process holds it.
  static absl::StatusOr<std::unique_ptr<SqliteAuditSink>> Open(const std::string& path,
                                                               const SqliteOptions& options);

  // Copies the log, as committed when the copy finishes, to `path` (through
  // `path`.tmp, renamed when complete), a few pages at a time between
  // commits so appends keep flowing. `done` runs on the writer thread with
  // the result. A snapshot requested while one runs waits for it.
  void Snapshot(std::string path, std::function<void(absl::Status)> done);

 private:
  SqliteAuditSink(std::unique_ptr<SqliteStore> store, SqliteStore* raw)
      : LogSink(std::move(store)), sqlite_(raw) {}
  SqliteStore* sqlite_;  // the LogSink's store
};

}  // namespace creditd::audit
