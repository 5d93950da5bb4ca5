#pragma once

// A policy directory as it was at a git revision, for `creditctl diff
// git:REV DIR`: exported into a temporary directory that is removed again.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace creditd::cli {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when destroyed.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// What a program run to its end said.
struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;     // its standard output
  std::string err;     // its standard error
};

// Runs `argv` (argv[0] found on PATH) without a shell, so no argument is
// ever read as shell text; its output is collected through files in
// `scratch`. An error only when it cannot be started.
absl::StatusOr<ProcessResult> RunProgram(const std::vector<std::string>& argv,
                                         const std::string& scratch);

// Writes the files under `dir`, a directory in a git work tree, as they were
// at `revision` into the empty directory `into` (git archive, then tar),
// using `scratch` for the archive. InvalidArgument saying why when `dir` is
// not in a repository, the revision is unknown, or `dir` did not exist at
// it; Unavailable when git or tar cannot be run.
absl::Status ExportRevision(const std::string& dir, const std::string& revision,
                            const std::string& into, const std::string& scratch);

}  // namespace creditd::cli
