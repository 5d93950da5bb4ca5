#include "engine/program.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace creditd::engine {

absl::StatusOr<std::string> DiskFileReader::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read `", path, "`"));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("error reading `", path, "`"));
  return text.str();
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
      sink_.Error("E0005", import.span, absl::StrCat("cannot import `", import.path, "`"),
                  absl::StrCat("looked for ", target));
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
