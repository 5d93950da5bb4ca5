#include "engine/program.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace creditd::engine {

const char kOutsidePolicyDirectory[] =
    "is outside the policy directory; imports must stay inside it";

namespace {

// The location of `path` with links resolved; errors name it `name`.
absl::StatusOr<std::string> Resolve(FileSystem& fs, const std::string& path,
                                    const std::string& name) {
  absl::StatusOr<std::string> real = fs.RealPath(path);
  if (real.ok()) return real;
  if (absl::IsNotFound(real.status())) {
    return absl::NotFoundError(absl::StrCat("there is no file `", name, "`"));
  }
  return absl::Status(real.status().code(),
                      absl::StrCat("cannot read `", name, "`: ", real.status().message()));
}

absl::Status Outside(const std::string& path) {
  return absl::PermissionDeniedError(absl::StrCat("`", path, "` ", kOutsidePolicyDirectory));
}

}  // namespace

absl::StatusOr<std::string> DiskFileReader::Read(const std::string& path) {
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("a file name cannot hold a NUL character");
  }
  absl::StatusOr<std::string> real = Resolve(fs_, path, path);
  if (!real.ok()) return real.status();
  return ReadRegularFile(fs_, *real, path, max_bytes_);
}

absl::StatusOr<std::string> PolicyDirReader::Read(const std::string& path) {
  // By the text alone first: nothing on disk is looked at for these.
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("a file name cannot hold a NUL character");
  }
  const std::string relative = NormalizePath(path);
  if (path.empty() || path[0] == '/' || relative == ".." || relative.rfind("../", 0) == 0) {
    return Outside(path);
  }
  absl::StatusOr<std::string> root = fs_->RealPath(root_);
  if (!root.ok()) {
    return absl::Status(root.status().code(), absl::StrCat("the policy directory cannot be read: ",
                                                           root.status().message()));
  }
  absl::StatusOr<std::string> real = Resolve(*fs_, JoinPath(*root, relative), relative);
  if (!real.ok()) return real.status();
  // Where links lead: the directory itself or below it, never beside it.
  const bool inside = *real == *root ||
                      (real->size() > root->size() && real->compare(0, root->size(), *root) == 0 &&
                       ((*root).back() == '/' || (*real)[root->size()] == '/'));
  if (!inside) return Outside(path);
  return ReadRegularFile(*fs_, *real, relative, max_bytes_);
}

std::optional<FileHeader> PeekHeader(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == absl::string_view::npos || line[start] == '#') continue;
    line.remove_prefix(start);
    FileHeader header;
    if (absl::ConsumePrefix(&line, "library ")) {
      header.is_library = true;
    } else if (!absl::ConsumePrefix(&line, "policy ")) {
      return std::nullopt;
    }
    line = line.substr(0, line.find_first_of(" \t\r#"));
    header.name = std::string(line);
    return header;
  }
  return std::nullopt;
}

std::string NormalizePath(const std::string& path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == ".." && !parts.empty() && parts.back() != "..") {
      parts.pop_back();
    } else if (part == ".." && absolute) {
      continue;
    } else {
      parts.emplace_back(part);
    }
  }
  std::string joined = absl::StrJoin(parts, "/");
  return absolute ? "/" + joined : (joined.empty() ? "." : joined);
}

namespace {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

class Loader {
 public:
  Loader(FileReader& reader, dsl::DiagnosticSink& sink, const LoadOptions& options,
         Program& program)
      : reader_(reader), sink_(sink), options_(options), program_(program) {}

  // Loads `path` (already normalized) and its imports, depth first.
  void Load(const std::string& path, const std::string& text) {
    state_[path] = kLoading;
    stack_.push_back(path);
    const int index = program_.sources.Add(path, text);
    absl::StatusOr<std::unique_ptr<dsl::ast::File>> file =
        dsl::Parse(program_.sources, index, sink_, options_.parse);
    if (file.ok() && *file != nullptr) {
      const dsl::ast::File* parsed = file->get();
      program_.files.push_back(*std::move(file));
      for (const dsl::ast::Import& import : parsed->imports) Import(path, import);
    }
    stack_.pop_back();
    state_[path] = kDone;
  }

 private:
  enum State { kLoading, kDone };

  void Import(const std::string& from, const dsl::ast::Import& import) {
    const std::string target = NormalizePath(DirectoryOf(from) + import.path);
    auto it = state_.find(target);
    if (it != state_.end()) {
      if (it->second == kLoading) {
        std::vector<std::string> cycle;
        bool in = false;
        for (const std::string& p : stack_) {
          in = in || p == target;
          if (in) cycle.push_back(p);
        }
        cycle.push_back(target);
        sink_.Error("E0006", import.span,
                    absl::StrCat("import cycle: ", absl::StrJoin(cycle, " -> ")),
                    "move the shared declarations into a library both files import");
      }
      return;
    }
    if (static_cast<int>(state_.size()) >= options_.max_files) {
      sink_.Error("E0007", import.span,
                  absl::StrCat("too many files: a policy and its imports may be at most ",
                               options_.max_files, " files"));
      return;
    }
    absl::StatusOr<std::string> text = reader_.Read(target);
    if (!text.ok()) {
      // The reader says why, naming the file only as the policy does.
      if (absl::IsResourceExhausted(text.status())) {
        sink_.Error("E0002", import.span,
                    absl::StrCat("file is too large: ", text.status().message()));
      } else {
        sink_.Error("E0005", import.span, absl::StrCat("cannot import `", import.path, "`"),
                    std::string(text.status().message()));
      }
      return;
    }
    Load(target, *text);
  }

  FileReader& reader_;
  dsl::DiagnosticSink& sink_;
  const LoadOptions& options_;
  Program& program_;
  absl::flat_hash_map<std::string, State> state_;
  std::vector<std::string> stack_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Program>> LoadProgram(const std::string& path, FileReader& reader,
                                                     dsl::DiagnosticSink& sink,
                                                     const LoadOptions& options) {
  const std::string normalized = NormalizePath(path);
  absl::StatusOr<std::string> text = reader.Read(normalized);
  if (!text.ok()) return text.status();
  auto program = std::make_unique<Program>();
  Loader loader(reader, sink, options, *program);
  loader.Load(normalized, *text);
  return program;
}

}  // namespace creditd::engine
