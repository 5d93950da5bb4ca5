#pragma once

// A bundle is every policy of a directory, checked and compiled together; a
// Registry holds the bundle being served, swaps in a new one atomically, and
// keeps every version ever loaded for pinned requests and replay.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dsl/diagnostic.h"
#include "engine/compiled_policy.h"
#include "engine/program.h"

namespace creditd::engine {

struct Bundle {
  // By decision name.
  std::map<std::string, std::shared_ptr<const CompiledPolicy>> policies;
  std::string directory;
};

// The outcome of loading a directory: the bundle when every policy checked
// and compiled, and every diagnostic found either way (already printed
// form in `report`).
struct BundleLoad {
  std::shared_ptr<const Bundle> bundle;  // null when there were errors
  std::vector<dsl::Diagnostic> diagnostics;
  std::string report;  // the diagnostics as creditctl check prints them
  int errors = 0;
};

// Loads every *.credit policy under the directory `dir` reads (libraries
// load only through the policies that import them), reading nothing else.
// Files and diagnostics are named by their path inside the directory. Names
// starting with "." are skipped (a ConfigMap mount's "..data" holds what its
// visible links point to); links to directories are not followed.
//
// Any error rejects the whole bundle: a file that does not check, two files
// declaring one decision, a file that cannot be read (not a regular file,
// too large, outside the directory), a subdirectory that cannot be listed,
// and a directory holding no policy at all. A non-OK status when the
// directory itself cannot be listed: NotFound when it does not exist.
// Messages never say where the directory is.
absl::StatusOr<BundleLoad> LoadBundle(PolicyDirReader& dir);

// The same for `directory`, read through a PolicyDirReader on the file
// system `reader` reads (InvalidArgument for a reader with none).
absl::StatusOr<BundleLoad> LoadBundle(const std::string& directory, FileReader& reader);

// Checks and compiles one candidate policy text, as if it were the file
// `path`, for "validate a candidate". With a PolicyDirReader, `path` is
// relative to its directory. The candidate's imports are read through
// `reader` and must be libraries (`library NAME`): any other import is
// refused (E0005) with one message whatever the reason, missing, outside
// the directory, not a library or unreadable, so the answer reveals nothing
// of the files behind it.
absl::StatusOr<BundleLoad> LoadCandidate(const std::string& path, const std::string& text,
                                         FileReader& reader);

// The help of every refused import of a candidate.
extern const char kCandidateImports[];

// Compiles a policy back from its canonical source (CompiledPolicy::
// canonical_source(): every file under a "=== path" line, the policy
// first), as stored in the audit log. The result has the same PolicyId.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileCanonicalSource(
    const std::string& source);

// The serving snapshot and every version ever served.
class Registry {
 public:
  // The bundle requests start on; null before the first Install.
  std::shared_ptr<const Bundle> Current() const;
  // Makes `bundle` current. Refuses (FailedPrecondition) a bundle holding a
  // policy whose name and version were loaded before with different source:
  // a version names one text forever. Requests in flight keep the snapshot
  // they took.
  absl::Status Install(std::shared_ptr<const Bundle> bundle);
  // A version of a decision ever installed, current or not; null if none.
  std::shared_ptr<const CompiledPolicy> Find(const std::string& name,
                                             const std::string& version) const;
  // Every version of every decision ever installed, by name then version.
  std::vector<std::shared_ptr<const CompiledPolicy>> History() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Bundle> current_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const CompiledPolicy>> history_;
};

}  // namespace creditd::engine
