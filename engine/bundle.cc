#include "engine/bundle.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypto/sha256.h"
#include "engine/approvals.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/versions.h"

namespace creditd::engine {

const char kVersionTwice[] = "E0601";
const char kVersionRebound[] = "E0602";

namespace {

// Codes of a load's errors that have no place in a text
// (docs/diagnostics.md).
constexpr char kCannotRead[] = "E0008";
constexpr char kNothingToServe[] = "E0009";
constexpr char kCannotCompile[] = "E0010";
constexpr char kBadHeaderValue[] = "E0103";
constexpr char kFileTooLarge[] = "E0002";
constexpr char kTableTooLarge[] = "E0319";

// An error with no place: a file that cannot be read, a directory that
// cannot be listed, nothing to serve.
void LoadError(BundleLoad& load, const char* code, absl::string_view message) {
  absl::StrAppend(&load.report, "error[", code, "]: ", message, "\n");
  dsl::Diagnostic d;
  d.code = code;
  d.message = std::string(message);
  load.diagnostics.push_back(std::move(d));
  load.diagnostic_files.emplace_back();
  ++load.errors;
}

// The code of a file that could not be read: too large, or not readable.
const char* ReadErrorCode(const absl::Status& status) {
  return absl::IsResourceExhausted(status) ? kFileTooLarge : kCannotRead;
}

// Reads each file of the directory once per load and keeps what it read (or
// why it could not): every policy importing a library sees the same text,
// and no file is read twice while it may be being written.
class Snapshot : public FileReader {
 public:
  explicit Snapshot(FileReader& files) : files_(files) {}
  absl::StatusOr<std::string> Read(const std::string& path) override {
    const std::string key = NormalizePath(path);
    auto it = read_.find(key);
    if (it == read_.end()) it = read_.emplace(key, files_.Read(path)).first;
    return it->second;
  }
  FileSystem* file_system() override { return files_.file_system(); }

 private:
  FileReader& files_;
  std::map<std::string, absl::StatusOr<std::string>> read_;
};

// Diagnostics already reported in a load, so that one found through several
// policies (in a library they import) is reported once.
using Reported = std::set<std::tuple<std::string, int, int, std::string, std::string>>;

// Adds `d`, found in `sources`, to `load` unless it was reported already.
void Report(const dsl::Diagnostic& d, const dsl::SourceSet& sources, const std::string& fallback,
            BundleLoad& load, Reported& reported) {
  const std::string file = d.span.known() ? sources.file(d.span.file).path() : fallback;
  if (!reported.emplace(file, d.span.line, d.span.column, d.code, d.message).second) return;
  load.report += dsl::FormatDiagnostic(d, sources);
  load.diagnostics.push_back(d);
  load.diagnostic_files.push_back(file);
  (d.severity == dsl::Severity::kError ? load.errors : load.warnings)++;
}

// Loads, checks and compiles one policy file into `load`; a library is
// checked alone. Returns the compiled policy, or null (a library, errors).
std::shared_ptr<const CompiledPolicy> LoadOne(const std::string& path, FileReader& reader,
                                              BundleLoad& load, Reported& reported) {
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = LoadAndCheck(path, reader, sink);
  if (!checked.ok()) {
    // The reader's message names the file.
    LoadError(load, ReadErrorCode(checked.status()), checked.status().message());
    return nullptr;
  }
  const dsl::SourceSet& sources = (*checked)->program->sources;
  for (const dsl::Diagnostic& d : sink.Sorted()) Report(d, sources, path, load, reported);
  // Past the sink's limit errors are counted, not kept.
  const int kept = static_cast<int>(sink.diagnostics().size());
  const int dropped = sink.error_count() + sink.warning_count() - kept;
  if (dropped > 0) load.errors += std::min(dropped, sink.error_count());
  if (sink.has_errors() || (*checked)->is_library) return nullptr;
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = Compile(*std::move(checked));
  if (!compiled.ok()) {
    // Too large to compile is what E0319 says; anything else is a defect.
    LoadError(load, absl::IsResourceExhausted(compiled.status()) ? kTableTooLarge : kCannotCompile,
              absl::StrCat(path, ": ", compiled.status().message()));
    return nullptr;
  }
  return *compiled;
}

bool IsLibrary(absl::string_view text) {
  const std::optional<FileHeader> header = PeekHeader(text);
  return header.has_value() && header->is_library;
}

// An error about the version `policy` declares, at its `version` line.
void VersionError(BundleLoad& load, const CompiledPolicy& policy, const char* code,
                  std::string message, std::string help) {
  dsl::Diagnostic d;
  d.severity = dsl::Severity::kError;
  d.code = code;
  d.span = VersionSpan(policy);
  d.message = std::move(message);
  d.help = std::move(help);
  const dsl::SourceSet& sources = policy.checked().program->sources;
  load.report += dsl::FormatDiagnostic(d, sources);
  load.diagnostic_files.push_back(d.span.known() ? sources.file(d.span.file).path() : "");
  load.diagnostics.push_back(std::move(d));
  ++load.errors;
}

// Holds every version of `bundle` to the approvals `options` requires.
void RequireApprovals(FileSystem& fs, const std::string& root, const BundleOptions& options,
                      Bundle& bundle, BundleLoad& load) {
  absl::StatusOr<Approvers> approvers = ReadApprovers(fs, options.approvers_file);
  if (!approvers.ok()) {
    LoadError(load, kNotApproved, approvers.status().message());
    return;
  }
  // The approvals beside each file, as `creditctl approve FILE` writes
  // them: `approvals/` of the file's own directory, read once per directory.
  std::map<std::string, absl::StatusOr<std::vector<ApprovalText>>> by_dir;
  for (auto& [name, decision] : bundle.decisions) {
    for (BundleVersion& v : decision.versions) {
      const std::string dir = ApprovalsDirOf(v.path);
      auto found = by_dir.find(dir);
      if (found == by_dir.end()) {
        found = by_dir.emplace(dir, ReadApprovals(fs, JoinPath(root, dir), dir)).first;
        if (!found->second.ok()) LoadError(load, kCannotRead, found->second.status().message());
      }
      if (!found->second.ok()) continue;
      ApprovalCount count = CountApprovals(v.policy->id(), *found->second, *approvers);
      dsl::Diagnostic d;
      if (!NotApproved(*v.policy, count, options.required_approvals, &d)) {
        v.approvals = std::move(count.approvals);
        continue;
      }
      VersionError(load, *v.policy, kNotApproved, std::move(d.message), std::move(d.help));
    }
  }
}

bool VersionOrder(const BundleVersion& a, const BundleVersion& b) {
  if (a.effective != b.effective) return a.effective < b.effective;
  return CompareVersions(a.policy->id().version, b.policy->id().version) < 0;
}

// The files of a canonical source, in order: each path (as its "=== path"
// line gives it, normalized) with its text.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SplitCanonicalSource(
    const std::string& source) {
  std::vector<std::pair<std::string, std::string>> files;
  size_t pos = 0;
  while (pos < source.size()) {
    size_t end = source.find('\n', pos);
    if (end == std::string::npos) end = source.size();
    const absl::string_view line(source.data() + pos, end - pos);
    pos = end + 1;
    if (absl::StartsWith(line, "=== ")) {
      files.emplace_back(NormalizePath(std::string(line.substr(4))), "");
      continue;
    }
    if (files.empty()) return absl::InvalidArgumentError("not a canonical policy source");
    absl::StrAppend(&files.back().second, line, "\n");
  }
  if (files.empty()) return absl::InvalidArgumentError("empty policy source");
  return files;
}

// Checks a canonical source: its policy, with its imports read from the
// source itself.
absl::StatusOr<std::unique_ptr<CheckedPolicy>> CheckCanonicalSource(const std::string& source) {
  class Files : public FileReader {
   public:
    absl::StatusOr<std::string> Read(const std::string& path) override {
      auto it = files.find(NormalizePath(path));
      if (it == files.end()) return absl::NotFoundError(absl::StrCat("no stored file ", path));
      return it->second;
    }
    std::map<std::string, std::string> files;
  } reader;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> split =
      SplitCanonicalSource(source);
  if (!split.ok()) return split.status();
  for (auto& [path, text] : *split) reader.files[path] += text;
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked =
      LoadAndCheck(split->front().first, reader, sink);
  if (!checked.ok()) return checked.status();
  if (sink.has_errors()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the stored source does not check:\n",
                     dsl::FormatDiagnostics(sink, (*checked)->program->sources)));
  }
  return checked;
}

bool SameId(const PolicyId& a, const PolicyId& b) {
  return a.name == b.name && a.version == b.version && a.sha256 == b.sha256;
}

// Is `policy` the text `held` was recorded with: the same sha256, or, for a
// text stored in an earlier canonical form, the same text once formatted in
// today's?
bool SameText(const CompiledPolicy& held, const CompiledPolicy& policy) {
  if (held.id().sha256 == policy.id().sha256) return true;
  return held.canonical_form() < kCanonicalForm && held.form_sha256() == policy.form_sha256();
}

// The files of `policy` by their paths inside the policy directory, in the
// order of its canonical source.
std::vector<std::string> DirectoryPaths(const CompiledPolicy& policy) {
  const Program& program = *policy.checked().program;
  std::vector<std::string> paths;
  for (const auto& file : program.files) paths.push_back(program.sources.file(file->file).path());
  return paths;
}

// What differs between the text `held` was recorded with and `policy`.
struct Changes {
  bool own = true;                     // the policy's own file
  std::string served_as;               // its name when served, if it moved
  std::vector<std::string> libraries;  // by their paths inside the directory
};

Changes ChangedFiles(const CompiledPolicy& held, const CompiledPolicy& policy) {
  Changes changes;
  if (held.canonical_form() != kCanonicalForm) return changes;  // not comparable file by file
  auto before = SplitCanonicalSource(held.canonical_source());
  auto now = SplitCanonicalSource(policy.canonical_source());
  const std::vector<std::string> paths = DirectoryPaths(policy);
  if (!before.ok() || !now.ok() || now->size() != paths.size()) return changes;
  std::map<std::string, std::string> old_files(before->begin(), before->end());
  changes.own = before->front().second != now->front().second;
  if (before->front().first != now->front().first) changes.served_as = before->front().first;
  for (size_t i = 1; i < now->size(); ++i) {
    auto it = old_files.find((*now)[i].first);
    if (it == old_files.end() || it->second != (*now)[i].second) {
      changes.libraries.push_back(paths[i]);
    }
  }
  return changes;
}

// Do two policies read the same, file by file, whatever their files are
// called?
bool SameTextApartFromPaths(const CompiledPolicy& a, const CompiledPolicy& b) {
  auto x = SplitCanonicalSource(a.canonical_source());
  auto y = SplitCanonicalSource(b.canonical_source());
  if (!x.ok() || !y.ok() || x->size() != y->size()) return false;
  for (size_t i = 0; i < x->size(); ++i) {
    if ((*x)[i].second != (*y)[i].second) return false;
  }
  return true;
}

// Adds a policy loaded from `path` to `bundle` as a version of its decision.
void AddVersion(Bundle& bundle, const std::string& path,
                std::shared_ptr<const CompiledPolicy> policy, BundleLoad& load) {
  absl::StatusOr<absl::Time> effective = EffectiveInstant(policy->checked().effective, bundle.zone);
  if (!effective.ok()) {
    LoadError(load, kBadHeaderValue, absl::StrCat(path, ": ", effective.status().message()));
    return;
  }
  DecisionVersions& decision = bundle.decisions[policy->name()];
  const std::string& version = policy->id().version;
  if (const BundleVersion* twin = decision.Find(version); twin != nullptr) {
    const bool same = SameTextApartFromPaths(*twin->policy, *policy);
    VersionError(load, *policy, kVersionTwice,
                 absl::StrCat("version ", version, " of `", policy->name(), "` is also in `",
                              twin->path, "`", same ? ", with the same text" : ", with other text"),
                 "a version is one file: remove one of them, or give one a new version");
    return;
  }
  decision.versions.push_back({std::move(policy), path, *effective, {}});
}

}  // namespace

dsl::SourceSpan VersionSpan(const CompiledPolicy& policy) {
  const dsl::ast::Header& header = policy.checked().program->files.front()->header;
  for (const dsl::ast::HeaderField& field : header.fields) {
    if (field.key.name == "version") return field.span;
  }
  return header.span;
}

const BundleVersion* DecisionVersions::InForce(absl::Time now) const {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->effective <= now) return &*it;
  }
  return nullptr;
}

const BundleVersion* DecisionVersions::Find(absl::string_view version) const {
  for (const BundleVersion& v : versions) {
    if (v.policy->id().version == version) return &v;
  }
  return nullptr;
}

const BundleVersion* Bundle::InForce(absl::string_view name, absl::Time now) const {
  auto it = decisions.find(name);
  return it == decisions.end() ? nullptr : it->second.InForce(now);
}

absl::StatusOr<BundleLoad> LoadBundle(PolicyDirReader& dir, const BundleOptions& options) {
  FileSystem& fs = *dir.file_system();
  absl::StatusOr<Tree> tree = WalkTree(fs, dir.root());
  if (!tree.ok()) {
    if (absl::IsNotFound(tree.status())) {
      return absl::NotFoundError("the policy directory does not exist");
    }
    return absl::Status(tree.status().code(), absl::StrCat("the policy directory cannot be read: ",
                                                           tree.status().message()));
  }
  BundleLoad load;
  // Any part of the directory not seen would silently drop its policies.
  for (const absl::Status& problem : tree->problems) {
    LoadError(load, ReadErrorCode(problem), problem.message());
  }
  auto bundle = std::make_shared<Bundle>();
  bundle->directory = dir.root();
  bundle->zone = options.zone;
  Snapshot files(dir);
  Reported reported;
  int policies = 0;
  std::vector<std::string> libraries;
  for (const TreeEntry& entry : tree->entries) {
    if (entry.type == FileType::kDirectory || !absl::EndsWith(entry.path, ".credit")) continue;
    absl::StatusOr<std::string> text = files.Read(entry.path);
    if (!text.ok()) {
      LoadError(load, ReadErrorCode(text.status()), text.status().message());
      continue;
    }
    if (IsLibrary(*text)) {
      libraries.push_back(entry.path);
      continue;
    }
    ++policies;
    std::shared_ptr<const CompiledPolicy> policy = LoadOne(entry.path, files, load, reported);
    if (policy != nullptr) AddVersion(*bundle, entry.path, std::move(policy), load);
  }
  // Libraries on their own too: one no policy imports must check as well.
  for (const std::string& library : libraries) LoadOne(library, files, load, reported);
  if (policies == 0 && load.errors == 0) {
    // Serving nothing is never what was meant: an emptied or wrong directory.
    const size_t n = libraries.size();
    LoadError(load, kNothingToServe,
              n == 0 ? "the policy directory holds no policy file (*.credit)"
                     : absl::StrCat("the policy directory holds no policy, only ", n,
                                    n == 1 ? " library" : " libraries"));
  }
  for (auto& [name, decision] : bundle->decisions) {
    std::sort(decision.versions.begin(), decision.versions.end(), VersionOrder);
  }
  if (options.required_approvals > 0) RequireApprovals(fs, dir.root(), options, *bundle, load);
  if (load.errors == 0) load.bundle = std::move(bundle);
  return load;
}

absl::StatusOr<BundleLoad> LoadBundle(const std::string& directory, FileReader& reader,
                                      const BundleOptions& options) {
  FileSystem* fs = reader.file_system();
  if (fs == nullptr) {
    return absl::InvalidArgumentError("a policy directory is read from a file system");
  }
  PolicyDirReader dir(directory, *fs);
  return LoadBundle(dir, options);
}

const char kCandidateImports[] =
    "a candidate may import only the policy directory's libraries, by their path inside it";

absl::StatusOr<BundleLoad> LoadCandidate(const std::string& path, const std::string& text,
                                         FileReader& reader) {
  // The candidate is `path`; everything else it reads comes from `reader`
  // and must be a library. Any other file is refused with one message,
  // whatever the reason (missing, outside the directory, not a library,
  // unreadable), so the answer tells the caller nothing about the server's
  // files, and no text of theirs is ever parsed or shown.
  class Candidate : public FileReader {
   public:
    Candidate(std::string path, const std::string& text, FileReader& base)
        : path_(NormalizePath(path)), text_(text), base_(base) {}
    absl::StatusOr<std::string> Read(const std::string& p) override {
      if (NormalizePath(p) == path_) return text_;
      absl::StatusOr<std::string> library = base_.Read(p);
      if (!library.ok() || !IsLibrary(*library)) return absl::NotFoundError(kCandidateImports);
      return library;
    }

   private:
    std::string path_;
    const std::string& text_;
    FileReader& base_;
  };
  Candidate candidate(path, text, reader);
  BundleLoad load;
  Reported reported;
  std::shared_ptr<const CompiledPolicy> policy = LoadOne(path, candidate, load, reported);
  if (policy != nullptr) {
    auto bundle = std::make_shared<Bundle>();
    AddVersion(*bundle, path, std::move(policy), load);
    if (load.errors == 0) load.bundle = std::move(bundle);
  }
  return load;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileCanonicalSource(
    const std::string& source) {
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = CheckCanonicalSource(source);
  if (!checked.ok()) return checked.status();
  return Compile(*std::move(checked));
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileStoredSource(const std::string& source,
                                                                          const std::string& sha256,
                                                                          int canonical_form) {
  if (crypto::Sha256Hex(source) != sha256) {
    return absl::DataLossError(
        absl::StrCat("the stored text does not hash to its sha256 ", sha256, ": it was changed"));
  }
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = CheckCanonicalSource(source);
  if (!checked.ok()) return checked.status();
  CompileOptions options;
  options.stored_sha256 = sha256;
  options.stored_source = source;
  options.stored_form = canonical_form;
  return Compile(*std::move(checked), options);
}

bool Registry::Order::operator()(const std::pair<std::string, std::string>& a,
                                 const std::pair<std::string, std::string>& b) const {
  if (a.first != b.first) return a.first < b.first;
  return CompareVersions(a.second, b.second) < 0;
}

Registry::Registry(RegistryOptions options)
    : zone_(options.zone),
      clock_(options.clock ? std::move(options.clock) : Clock([] { return absl::Now(); })) {}

std::shared_ptr<const Bundle> Registry::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

absl::Status Registry::Restore(const std::vector<StoredVersion>& stored) {
  // Rebuilt without the lock (compiling takes a while), added all at once.
  std::vector<std::pair<std::pair<std::string, std::string>, Held>> rebuilt;
  for (const StoredVersion& s : stored) {
    const std::string what = absl::StrCat("version ", s.version, " of `", s.name, "`");
    std::pair<std::string, std::string> key(s.name, s.version);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = history_.find(key);
      if (it != history_.end()) {
        if (it->second.policy->id().sha256 != s.sha256) {
          return absl::FailedPreconditionError(
              absl::StrCat(what, " is recorded in the audit log with sha256 ", s.sha256,
                           " but served with ", it->second.policy->id().sha256));
        }
        continue;
      }
    }
    absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
        CompileStoredSource(s.source, s.sha256, s.canonical_form);
    if (!policy.ok()) {
      return absl::Status(policy.status().code(),
                          absl::StrCat(what, " as the audit log stores it does not rebuild: ",
                                       policy.status().message()));
    }
    if ((*policy)->id().name != s.name || (*policy)->id().version != s.version) {
      return absl::DataLossError(absl::StrCat(what, " is stored in the audit log with the text of ",
                                              (*policy)->id().version, " of `",
                                              (*policy)->id().name, "`"));
    }
    absl::StatusOr<absl::Time> effective = EffectiveInstant((*policy)->checked().effective, zone_);
    if (!effective.ok()) {
      return absl::Status(effective.status().code(),
                          absl::StrCat(what, ": ", effective.status().message()));
    }
    rebuilt.push_back({std::move(key), Held{*std::move(policy), *effective, s.first_served}});
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, held] : rebuilt) history_.emplace(std::move(key), std::move(held));
  for (const StoredVersion& s : stored) {
    auto it = history_.find({s.name, s.version});
    if (it != history_.end() && it->second.first_served.empty()) {
      it->second.first_served = s.first_served;
    }
  }
  return absl::OkStatus();
}

void Registry::Bind(BundleLoad& load) const {
  if (load.bundle == nullptr) return;
  auto bound = std::make_shared<Bundle>(*load.bundle);
  struct Conflict {
    const BundleVersion* version;
    std::shared_ptr<const CompiledPolicy> held;
    Changes changes;
  };
  std::vector<Conflict> conflicts;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [name, decision] : bound->decisions) {
      for (BundleVersion& v : decision.versions) {
        auto it = history_.find({name, v.policy->id().version});
        if (it == history_.end()) continue;
        if (SameText(*it->second.policy, *v.policy)) {
          v.policy = it->second.policy;  // its recorded identity
        } else {
          conflicts.push_back({&v, it->second.policy, {}});
        }
      }
    }
  }
  if (conflicts.empty()) {
    load.bundle = std::move(bound);
    return;
  }
  for (Conflict& c : conflicts) c.changes = ChangedFiles(*c.held, *c.version->policy);
  for (const Conflict& c : conflicts) {
    const CompiledPolicy& policy = *c.version->policy;
    const std::string& version = policy.id().version;
    std::vector<std::string> help;
    if (c.changes.own) {
      help.push_back(absl::StrCat("give the changed policy a new version, or put back the text ",
                                  version, " was served with"));
    }
    if (!c.changes.served_as.empty()) {
      help.push_back(absl::StrCat("it was served as `", c.changes.served_as,
                                  "` (its sha256 covers its file name): name it so again, or "
                                  "give it a new version"));
    }
    for (const std::string& library : c.changes.libraries) {
      std::vector<std::string> importers;
      for (const Conflict& other : conflicts) {
        const std::vector<std::string> paths = DirectoryPaths(*other.version->policy);
        if (std::find(paths.begin() + 1, paths.end(), library) == paths.end()) continue;
        importers.push_back(absl::StrCat(other.version->policy->name(), " ",
                                         other.version->policy->id().version, " (",
                                         other.version->path, ")"));
      }
      help.push_back(absl::StrCat("library `", library,
                                  "` changed: every policy importing it needs a new version: ",
                                  absl::StrJoin(importers, ", ")));
    }
    VersionError(
        load, policy, kVersionRebound,
        absl::StrCat("version ", version, " of `", policy.name(),
                     "` was served before with other text (sha256 ",
                     c.held->id().sha256.substr(0, 12), ", this text ",
                     policy.id().sha256.substr(0, 12), "); a version names one text forever"),
        absl::StrJoin(help, "; "));
  }
  load.bundle = nullptr;
}

std::vector<std::shared_ptr<const CompiledPolicy>> Registry::Unbound(const Bundle& bundle) const {
  std::vector<std::shared_ptr<const CompiledPolicy>> unbound;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, decision] : bundle.decisions) {
    for (const BundleVersion& v : decision.versions) {
      if (history_.find({name, v.policy->id().version}) == history_.end()) {
        unbound.push_back(v.policy);
      }
    }
  }
  return unbound;
}

absl::Status Registry::Install(std::shared_ptr<const Bundle> bundle) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, decision] : bundle->decisions) {
    for (const BundleVersion& v : decision.versions) {
      auto it = history_.find({name, v.policy->id().version});
      if (it != history_.end() && it->second.policy->id().sha256 != v.policy->id().sha256) {
        return absl::FailedPreconditionError(absl::StrCat(
            "version ", v.policy->id().version, " of `", name,
            "` was served before with other text (sha256 ",
            it->second.policy->id().sha256.substr(0, 12), ", now ",
            v.policy->id().sha256.substr(0, 12), "); give the changed policy a new version"));
      }
    }
  }
  for (const auto& [name, decision] : bundle->decisions) {
    for (const BundleVersion& v : decision.versions) {
      history_.emplace(std::make_pair(name, v.policy->id().version),
                       Held{v.policy, v.effective, ""});
    }
  }
  current_ = std::move(bundle);
  return absl::OkStatus();
}

std::shared_ptr<const CompiledPolicy> Registry::Find(const std::string& name,
                                                     const std::string& version) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = history_.find({name, version});
  return it == history_.end() ? nullptr : it->second.policy;
}

std::vector<VersionInfo> Registry::Versions() const {
  const absl::Time now = Now();
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<VersionInfo> all;
  for (const auto& [key, held] : history_) {
    VersionInfo info;
    info.policy = held.policy;
    info.effective = held.effective;
    info.first_served = held.first_served;
    const DecisionVersions* decision = nullptr;
    if (current_ != nullptr) {
      auto it = current_->decisions.find(key.first);
      if (it != current_->decisions.end()) decision = &it->second;
    }
    if (decision != nullptr) {
      const BundleVersion* served = decision->Find(key.second);
      if (served != nullptr && SameId(served->policy->id(), held.policy->id())) {
        info.approvals = served->approvals;
        const BundleVersion* in_force = decision->InForce(now);
        if (in_force != nullptr && SameId(in_force->policy->id(), held.policy->id())) {
          info.state = VersionState::kCurrent;
        } else if (served->effective > now) {
          info.state = VersionState::kScheduled;
        }
      }
    }
    all.push_back(std::move(info));
  }
  return all;
}

}  // namespace creditd::engine
