#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dsl/ast.h"
#include "dsl/diagnostic.h"
#include "dsl/parser.h"
#include "dsl/source.h"
#include "engine/file_system.h"

namespace creditd::engine {

// Where the loader gets file contents: a policy directory on disk
// (PolicyDirReader), any file on disk (DiskFileReader, for the author's
// own machine), or memory (tests, stored sources).
class FileReader {
 public:
  virtual ~FileReader() = default;
  // The file's text. NotFound when there is none; another error when it
  // cannot be read (too large: ResourceExhausted). Messages name the file
  // as `path` names it, and nothing else.
  virtual absl::StatusOr<std::string> Read(const std::string& path) = 0;
  // The file system the reader reads, or null (memory).
  virtual FileSystem* file_system() { return nullptr; }
};

// Reads any regular file by its path (relative to the working directory),
// at most `max_bytes` of it: for creditctl, on the author's own machine.
// Only regular files are read (a FIFO or a device is refused, a read error
// is an error), never more than max_bytes + 1 bytes.
class DiskFileReader : public FileReader {
 public:
  explicit DiskFileReader(FileSystem& fs = FileSystem::Default(),
                          size_t max_bytes = dsl::ParseOptions().max_bytes)
      : fs_(fs), max_bytes_(max_bytes) {}
  absl::StatusOr<std::string> Read(const std::string& path) override;
  FileSystem* file_system() override { return &fs_; }

 private:
  FileSystem& fs_;
  size_t max_bytes_;
};

// Reads the files of one policy directory and nothing else: every load of a
// policy directory goes through one (the server's, always).
//
// Paths are relative to the directory ("shared/common.credit"). An absolute
// path, or one that leaves the directory once `..` is resolved, is refused
// by its text, before anything on disk is looked at; a path whose real
// location (links resolved) lies outside the directory is refused with the
// same error (PermissionDenied), whether or not it exists. Links that stay
// inside (a Kubernetes ConfigMap mount is made of them) are followed. Only
// regular files are read, at most `max_bytes` of them (ResourceExhausted
// past that, after reading one byte more). Messages name files by their
// path relative to the directory, never by where the directory is.
class PolicyDirReader : public FileReader {
 public:
  explicit PolicyDirReader(std::string root, FileSystem& fs = FileSystem::Default(),
                           size_t max_bytes = dsl::ParseOptions().max_bytes)
      : root_(std::move(root)), fs_(&fs), max_bytes_(max_bytes) {}

  // The directory, as given.
  const std::string& root() const { return root_; }
  absl::StatusOr<std::string> Read(const std::string& path) override;
  FileSystem* file_system() override { return fs_; }

 private:
  std::string root_;
  FileSystem* fs_;
  size_t max_bytes_;
};

// The message of every refusal of a path outside the policy directory.
extern const char kOutsidePolicyDirectory[];

// A policy file with everything it imports, parsed. files[0] is the policy
// itself; the rest are its imports, each once, in the order first reached.
struct Program {
  dsl::SourceSet sources;
  std::vector<std::unique_ptr<dsl::ast::File>> files;
};

struct LoadOptions {
  dsl::ParseOptions parse;
  int max_files = 64;  // a policy with more imports is refused (E0007)
};

// What a file's first line says, read without parsing: `policy NAME` or
// `library NAME` (comments and blank lines skipped). nullopt otherwise.
struct FileHeader {
  bool is_library = false;
  std::string name;
};
std::optional<FileHeader> PeekHeader(absl::string_view text);

// "a/b/../c.credit" -> "a/c.credit"; keeps a leading "/" and leading "..".
std::string NormalizePath(const std::string& path);

// Loads `path` and its imports (paths relative to the importing file).
// Syntax errors, unreadable imports (E0005), import cycles (E0006) and too
// many files (E0007) go to `sink`; files that failed to parse are left out.
// Returns NotFound (or the reader's error) only when `path` itself cannot be
// read.
absl::StatusOr<std::unique_ptr<Program>> LoadProgram(const std::string& path, FileReader& reader,
                                                     dsl::DiagnosticSink& sink,
                                                     const LoadOptions& options = {});

}  // namespace creditd::engine
