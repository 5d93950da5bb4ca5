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

// Loads every *.credit policy under `directory` (libraries are only loaded
// through imports). Any error rejects the whole bundle. Two files declaring
// the same decision are an error. NotFound when the directory is missing.
absl::StatusOr<BundleLoad> LoadBundle(const std::string& directory, FileReader& reader);

// Checks and compiles one candidate policy text, as if it were the file
// `path` (its imports are read through `reader`). For "validate a candidate".
absl::StatusOr<BundleLoad> LoadCandidate(const std::string& path, const std::string& text,
                                         FileReader& reader);

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
