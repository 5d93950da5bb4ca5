#include "engine/bundle.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/checker.h"
#include "engine/compiler.h"

namespace creditd::engine {

namespace {

// Loads, checks and compiles one policy file into `load`; libraries are
// skipped. Returns the compiled policy or null.
std::shared_ptr<const CompiledPolicy> LoadOne(const std::string& path, FileReader& reader,
                                              BundleLoad& load) {
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = LoadAndCheck(path, reader, sink);
  if (!checked.ok()) {
    load.report += absl::StrCat("error: ", path, ": ", checked.status().message(), "\n");
    ++load.errors;
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
    load.report += absl::StrCat("error: ", path, ": ", compiled.status().message(), "\n");
    ++load.errors;
    return nullptr;
  }
  return *compiled;
}

// Is this file a library? Libraries load only through the policies that
// import them.
bool IsLibrary(FileReader& reader, const std::string& path) {
  absl::StatusOr<std::string> text = reader.Read(path);
  if (!text.ok()) return false;
  const std::optional<FileHeader> header = PeekHeader(*text);
  return header.has_value() && header->is_library;
}

}  // namespace

absl::StatusOr<BundleLoad> LoadBundle(const std::string& directory, FileReader& reader) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return absl::NotFoundError(absl::StrCat("no policy directory `", directory, "`"));
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(directory, error)) {
    if (entry.is_regular_file() && absl::EndsWith(entry.path().string(), ".credit")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  BundleLoad load;
  auto bundle = std::make_shared<Bundle>();
  bundle->directory = directory;
  for (const std::string& file : files) {
    if (IsLibrary(reader, file)) continue;
    std::shared_ptr<const CompiledPolicy> policy = LoadOne(file, reader, load);
    if (policy == nullptr) continue;
    auto [it, fresh] = bundle->policies.emplace(policy->name(), policy);
    if (!fresh) {
      load.report += absl::StrCat("error: ", file, ": decision `", policy->name(),
                                  "` is also defined in another file\n");
      ++load.errors;
    }
  }
  if (load.errors == 0) load.bundle = std::move(bundle);
  return load;
}

absl::StatusOr<BundleLoad> LoadCandidate(const std::string& path, const std::string& text,
                                         FileReader& reader) {
  // The candidate replaces `path`; everything else comes from `reader`.
  class Overlay : public FileReader {
   public:
    Overlay(std::string path, const std::string& text, FileReader& base)
        : path_(NormalizePath(path)), text_(text), base_(base) {}
    absl::StatusOr<std::string> Read(const std::string& p) override {
      if (NormalizePath(p) == path_) return text_;
      return base_.Read(p);
    }

   private:
    std::string path_;
    const std::string& text_;
    FileReader& base_;
  };
  Overlay overlay(path, text, reader);
  BundleLoad load;
  std::shared_ptr<const CompiledPolicy> policy = LoadOne(path, overlay, load);
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
