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

namespace creditd::engine {

// Where the loader gets file contents. The default reads the disk; tests and
// the server's "validate a candidate" call provide their own.
class FileReader {
 public:
  virtual ~FileReader() = default;
  // The file's text; NotFound or another error naming the path.
  virtual absl::StatusOr<std::string> Read(const std::string& path) = 0;
};

class DiskFileReader : public FileReader {
 public:
  absl::StatusOr<std::string> Read(const std::string& path) override;
};

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
