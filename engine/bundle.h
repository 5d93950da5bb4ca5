#pragma once

// A bundle is every policy of a directory, checked and compiled together,
// several versions of one decision side by side; a Registry holds the
// bundle being served, swaps in a new one atomically, and keeps every
// version ever served for pinned requests: the registry of record, whose
// bindings (a name and version to one sha256, forever) the audit log keeps
// across restarts.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dsl/diagnostic.h"
#include "engine/approvals.h"
#include "engine/compiled_policy.h"
#include "engine/program.h"

namespace creditd::engine {

// One version of a decision in a bundle.
struct BundleVersion {
  std::shared_ptr<const CompiledPolicy> policy;
  std::string path;      // its file, relative to the policy directory
  absl::Time effective;  // it serves unpinned requests from this instant on
  // When the load required approvals (BundleOptions::required_approvals):
  // the verified approval of each trusted approver who counted for it.
  std::vector<SignedApproval> approvals;
};

// The versions of one decision, ordered by effective instant, then by
// semantic version (CompareVersions): the last one whose instant has come is
// in force.
struct DecisionVersions {
  std::vector<BundleVersion> versions;

  // The version in force at `now`: the latest whose effective instant is not
  // after `now`, ties broken by semantic version. Null when none is yet.
  // Allocates nothing and takes no lock: this runs on every request.
  const BundleVersion* InForce(absl::Time now) const;
  // The version `version`, or null.
  const BundleVersion* Find(absl::string_view version) const;
};

struct Bundle {
  // By decision name.
  std::map<std::string, DecisionVersions, std::less<>> decisions;
  std::string directory;
  // The zone whose midnights the effective instants are.
  absl::TimeZone zone = absl::UTCTimeZone();

  // The version of decision `name` in force at `now`; null when there is no
  // such decision, or none of its versions is in force yet.
  const BundleVersion* InForce(absl::string_view name, absl::Time now) const;
};

// The outcome of loading a directory: the bundle when every policy checked
// and compiled, and every diagnostic found either way (already printed
// form in `report`).
struct BundleLoad {
  std::shared_ptr<const Bundle> bundle;  // null when there were errors
  // Every problem, in the order of `report`: coded diagnostics, and errors
  // with no code or place (a file that cannot be read).
  std::vector<dsl::Diagnostic> diagnostics;
  // The file of each diagnostic (diagnostics[i]), relative to the
  // directory; empty when it has no place.
  std::vector<std::string> diagnostic_files;
  std::string report;  // the diagnostics as creditctl check prints them
  int errors = 0;
  int warnings = 0;
};

struct BundleOptions {
  // Effective dates take effect at midnight in this zone.
  absl::TimeZone zone = absl::UTCTimeZone();
  // Four-eyes approval (engine/approvals.h): above 0, every version needs
  // this many distinct trusted approvers of `approvers_file` (read at each
  // load) with a signed approval of it in `approvals/` beside its file;
  // any version with fewer is an error (E0603), and so is an approvers file
  // that cannot be read or parsed.
  int required_approvals = 0;
  std::string approvers_file;
};

// Loads every *.credit file under the directory `dir` reads, reading
// nothing else: policies with their imports, and libraries on their own
// too, so that a library with errors rejects the directory whether or not a
// policy imports it. Each file is read once, completely, per load: every
// policy importing a library sees the same text, and a file that changes
// while it is read is refused (kChangedWhileRead says how to write files).
// Files and diagnostics are named by their path inside the directory. Names
// starting with "." are skipped (a ConfigMap mount's "..data" holds what its
// visible links point to; a file written under a dot-name and renamed into
// place is never seen half-written); links to directories are not followed.
// A diagnostic found through several policies (in a library they share) is
// reported once.
//
// A directory may hold several versions of one decision, each in its own
// file. Any error rejects the whole bundle: a file that does not check, one
// name and version in two files (E0601, whether or not their texts are the
// same), a file that cannot be read (not a regular file, too large, outside
// the directory, changed while read), a subdirectory that cannot be listed,
// and a directory holding no policy at all. A non-OK status when the
// directory itself cannot be listed: NotFound when it does not exist.
// Messages never say where the directory is.
absl::StatusOr<BundleLoad> LoadBundle(PolicyDirReader& dir, const BundleOptions& options = {});

// The same for `directory`, read through a PolicyDirReader on the file
// system `reader` reads (InvalidArgument for a reader with none).
absl::StatusOr<BundleLoad> LoadBundle(const std::string& directory, FileReader& reader,
                                      const BundleOptions& options = {});

// Checks and compiles one candidate policy text, as if it were the file
// `path`, for "validate a candidate". With a PolicyDirReader, `path` is
// relative to its directory. The candidate's imports are read through
// `reader` and must be libraries (`library NAME`): any other import is
// refused (E0005) with one message whatever the reason, missing, outside
// the directory, not a library or unreadable, so the answer reveals nothing
// of the files behind it.
absl::StatusOr<BundleLoad> LoadCandidate(const std::string& path, const std::string& text,
                                         FileReader& reader);

// Where a policy says its version: its `version` line (the header when it
// has none).
dsl::SourceSpan VersionSpan(const CompiledPolicy& policy);

// The help of every refused import of a candidate.
extern const char kCandidateImports[];

// Compiles a policy back from its canonical source (CompiledPolicy::
// canonical_source(): every file under a "=== path" line, the policy
// first). The result's sha256 is computed from the text in today's
// canonical form.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileCanonicalSource(
    const std::string& source);

// Rebuilds a version from the text the audit log stored for it, under the
// identity it was stored with: its sha256 is taken as stored, never
// recomputed by today's formatter, and `source` (in canonical form
// `canonical_form`) stays its canonical source. DataLoss when `source` does
// not hash to `sha256` (the stored text was changed); an error as
// CompileCanonicalSource when it does not compile.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileStoredSource(const std::string& source,
                                                                          const std::string& sha256,
                                                                          int canonical_form);

// A version as the audit log records it: its text, bound to its name and
// version the first time it was served.
struct StoredVersion {
  std::string name;
  std::string version;
  std::string sha256;
  std::string source;  // the canonical text, exactly as stored
  int canonical_form = kCanonicalForm;
  std::string first_served;  // RFC 3339 (UTC), when it was bound
};

// What serves now, for the registry and tests: absl::Now unless replaced.
using Clock = std::function<absl::Time()>;

struct RegistryOptions {
  // Effective dates of versions rebuilt from the log take effect at
  // midnight in this zone (bundles carry their own, from BundleOptions).
  absl::TimeZone zone = absl::UTCTimeZone();
  // Empty: absl::Now.
  Clock clock;
};

// Where a version stands at an instant.
enum class VersionState {
  kScheduled,   // in the served bundle, its effective instant still to come
  kCurrent,     // in force: unpinned requests get it
  kSuperseded,  // no longer served unpinned (a later version is in force, or
                // it left the directory); pinned requests still get it
};

struct VersionInfo {
  std::shared_ptr<const CompiledPolicy> policy;
  VersionState state = VersionState::kSuperseded;
  absl::Time effective;      // when it serves (or served) unpinned requests
  std::string first_served;  // RFC 3339; empty until the log has bound it
  // The approvals the load now serving verified for it (BundleVersion::
  // approvals); none for a version that is not in that load.
  std::vector<SignedApproval> approvals;
};

// The code of a version given twice in one directory.
extern const char kVersionTwice[];
// The code of a version whose text contradicts the one recorded for it.
extern const char kVersionRebound[];

// The serving snapshot and every version ever served. Thread-safe.
class Registry {
 public:
  explicit Registry(RegistryOptions options = {});

  // The registry's clock.
  absl::Time Now() const { return clock_(); }
  // The zone effective dates of rebuilt versions are midnights in.
  absl::TimeZone zone() const { return zone_; }

  // The bundle requests start on; null before the first Install.
  std::shared_ptr<const Bundle> Current() const;

  // Adds the versions the audit log recorded, each rebuilt from its stored
  // text under its stored sha256 (CompileStoredSource), so that every version
  // ever served stays pinnable after a restart; a version held already only
  // gets its first-served time. An error naming the version when a stored
  // text does not rebuild, does not declare the name and version it is
  // stored under, or contradicts a version held; nothing is added then.
  absl::Status Restore(const std::vector<StoredVersion>& stored);

  // Holds the bundle of `load` against every version held: a version held
  // before with other text is an error (E0602) at its `version` line, added
  // to `load` (diagnostics, report, errors), whose bundle is then dropped.
  // When a shared library changed, each such error names every policy of
  // the bundle importing it that needs a new version. A version held with
  // the same text (or with text stored in an earlier canonical form that
  // formats to the same) is replaced in the bundle by the one held, so it
  // serves under its recorded identity.
  void Bind(BundleLoad& load) const;

  // The versions of `bundle` not held yet: what the log must bind before
  // the bundle serves.
  std::vector<std::shared_ptr<const CompiledPolicy>> Unbound(const Bundle& bundle) const;

  // Makes `bundle` current. Refuses (FailedPrecondition) a bundle holding a
  // version held before with other text: Bind says why. Requests in flight
  // keep the snapshot they took.
  absl::Status Install(std::shared_ptr<const Bundle> bundle);

  // A version of a decision ever installed or restored, in force or not;
  // null if none.
  std::shared_ptr<const CompiledPolicy> Find(const std::string& name,
                                             const std::string& version) const;

  // Every version held, by name then version order, with its state now.
  // `current` is decided by PolicyId (name, version and sha256).
  std::vector<VersionInfo> Versions() const;

 private:
  struct Held {
    std::shared_ptr<const CompiledPolicy> policy;
    absl::Time effective;
    std::string first_served;
  };
  // (name, version) ordered by name, then semantic version.
  struct Order {
    bool operator()(const std::pair<std::string, std::string>& a,
                    const std::pair<std::string, std::string>& b) const;
  };

  absl::TimeZone zone_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Bundle> current_;
  std::map<std::pair<std::string, std::string>, Held, Order> history_;
};

}  // namespace creditd::engine
