#pragma once

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dsl/ast.h"
#include "dsl/diagnostic.h"
#include "dsl/source.h"

namespace creditd::dsl {

enum class PredictionMode {
  kTwoStage,  // SLL first, full LL only when SLL fails (the default; fast)
  kLL,        // full LL from the start (for measuring the difference)
};

// Bounds that keep any input, however malformed, cheap to reject.
struct ParseOptions {
  size_t max_bytes = 1 << 20;  // larger files are refused with E0002
  int max_nesting = 48;        // brackets and nested `if`/`not`/`-` per declaration (E0004)
  PredictionMode prediction = PredictionMode::kTwoStage;
};

// Parses file `file` of `sources` into an AST. Syntax errors are reported to
// `sink` (codes E0001-E0004); the result is then null. Returns a non-OK
// status only when the parser could not run (`file` is not a valid index).
absl::StatusOr<std::unique_ptr<ast::File>> Parse(const SourceSet& sources, int file,
                                                 DiagnosticSink& sink,
                                                 const ParseOptions& options = {});

// Parses only to report syntax errors.
absl::Status CheckSyntax(const SourceSet& sources, int file, DiagnosticSink& sink,
                         const ParseOptions& options = {});

}  // namespace creditd::dsl
