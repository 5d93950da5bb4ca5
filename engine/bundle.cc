#include "engine/bundle.h"

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/checker.h"
#include "engine/compiler.h"

namespace creditd::engine {

namespace {

void LoadError(BundleLoad& load, absl::string_view message) {
  absl::StrAppend(&load.report, "error: ", message, "\n");
  ++load.errors;
}

// Loads, checks and compiles one policy file into `load`; libraries are
// skipped. Returns the compiled policy or null.
std::shared_ptr<const CompiledPolicy> LoadOne(const std::string& path, FileReader& reader,
                                              BundleLoad& load) {
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = LoadAndCheck(path, reader, sink);
  if (!checked.ok()) {
    LoadError(load, checked.status().message());  // the reader's message names the file
    return nullptr;
  }
  const dsl::SourceSet& sources = (*checked)->program->sources;
  for (const dsl::Diagnostic& d : sink.Sorted()) {
    load.report += dsl::FormatDiagnostic(d, sources);
    load.diagnostics.push_back(d);
  }
  load.errors += sink.error_count();
  if (sink.has_errors() || (*checked)->is_library) return nullptr;
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = Compile(*std::move(checked));
  if (!compiled.ok()) {
    LoadError(load, absl::StrCat(path, ": ", compiled.status().message()));
    return nullptr;
  }
  return *compiled;
}

bool IsLibrary(absl::string_view text) {
  const std::optional<FileHeader> header = PeekHeader(text);
  return header.has_value() && header->is_library;
}

}  // namespace

absl::StatusOr<BundleLoad> LoadBundle(PolicyDirReader& dir) {
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
  for (const absl::Status& problem : tree->problems) LoadError(load, problem.message());
  auto bundle = std::make_shared<Bundle>();
  bundle->directory = dir.root();
  int policies = 0;
  int libraries = 0;
  for (const TreeEntry& entry : tree->entries) {
    if (entry.type == FileType::kDirectory || !absl::EndsWith(entry.path, ".credit")) continue;
    absl::StatusOr<std::string> text = dir.Read(entry.path);
    if (!text.ok()) {
      LoadError(load, text.status().message());
      continue;
    }
    // Libraries load only through the policies that import them.
    if (IsLibrary(*text)) {
      ++libraries;
      continue;
    }
    ++policies;
    std::shared_ptr<const CompiledPolicy> policy = LoadOne(entry.path, dir, load);
    if (policy == nullptr) continue;
    auto [it, fresh] = bundle->policies.emplace(policy->name(), policy);
    if (!fresh) {
      LoadError(load, absl::StrCat(entry.path, ": decision `", policy->name(),
                                   "` is also defined in another file"));
    }
  }
  if (policies == 0 && load.errors == 0) {
    // Serving nothing is never what was meant: an emptied or wrong directory.
    LoadError(load, libraries == 0
                        ? "the policy directory holds no policy file (*.credit)"
                        : absl::StrCat("the policy directory holds no policy, only ", libraries,
                                       libraries == 1 ? " library" : " libraries"));
  }
  if (load.errors == 0) load.bundle = std::move(bundle);
  return load;
}

absl::StatusOr<BundleLoad> LoadBundle(const std::string& directory, FileReader& reader) {
  FileSystem* fs = reader.file_system();
  if (fs == nullptr) {
    return absl::InvalidArgumentError("a policy directory is read from a file system");
  }
  PolicyDirReader dir(directory, *fs);
  return LoadBundle(dir);
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
  std::shared_ptr<const CompiledPolicy> policy = LoadOne(path, candidate, load);
  if (policy != nullptr) {
    auto bundle = std::make_shared<Bundle>();
    bundle->policies.emplace(policy->name(), policy);
    load.bundle = std::move(bundle);
  }
  return load;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileCanonicalSource(
    const std::string& source) {
  class Files : public FileReader {
   public:
    absl::StatusOr<std::string> Read(const std::string& path) override {
      auto it = files.find(NormalizePath(path));
      if (it == files.end()) return absl::NotFoundError(absl::StrCat("no stored file ", path));
      return it->second;
    }
    std::map<std::string, std::string> files;
  } reader;
  std::string first;
  std::string current;
  size_t pos = 0;
  while (pos < source.size()) {
    size_t end = source.find('\n', pos);
    if (end == std::string::npos) end = source.size();
    const std::string line = source.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("=== ", 0) == 0) {
      current = NormalizePath(line.substr(4));
      if (first.empty()) first = current;
      reader.files[current];
      continue;
    }
    if (current.empty()) return absl::InvalidArgumentError("not a canonical policy source");
    absl::StrAppend(&reader.files[current], line, "\n");
  }
  if (first.empty()) return absl::InvalidArgumentError("empty policy source");
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = LoadAndCheck(first, reader, sink);
  if (!checked.ok()) return checked.status();
  if (sink.has_errors()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the stored source does not check:\n",
                     dsl::FormatDiagnostics(sink, (*checked)->program->sources)));
  }
  return Compile(*std::move(checked));
}

std::shared_ptr<const Bundle> Registry::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

absl::Status Registry::Install(std::shared_ptr<const Bundle> bundle) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, policy] : bundle->policies) {
    auto it = history_.find({name, policy->id().version});
    if (it != history_.end() && it->second->id().sha256 != policy->id().sha256) {
      return absl::FailedPreconditionError(absl::StrCat(
          "decision `", name, "` version ", policy->id().version,
          " was loaded before with different text (sha256 ", it->second->id().sha256.substr(0, 12),
          ", now ", policy->id().sha256.substr(0, 12), "); give the changed policy a new version"));
    }
  }
  for (const auto& [name, policy] : bundle->policies) {
    history_.emplace(std::make_pair(name, policy->id().version), policy);
  }
  current_ = std::move(bundle);
  return absl::OkStatus();
}

std::shared_ptr<const CompiledPolicy> Registry::Find(const std::string& name,
                                                     const std::string& version) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = history_.find({name, version});
  return it == history_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const CompiledPolicy>> Registry::History() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<const CompiledPolicy>> all;
  for (const auto& [key, policy] : history_) all.push_back(policy);
  return all;
}

}  // namespace creditd::engine
