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

// Bounds that keep any input, however malformed, cheap to reject, and every
// tree the parser returns shallow enough for the passes that recurse over
// it (the checker, the analysis, the compiler, the formatter, the AST's own
// destructor). docs/language.md (Limits) says how they were measured.
struct ParseOptions {
  size_t max_bytes = 1 << 20;  // larger files are refused with E0002
  // Levels of ast::Expr in one expression: every operator, call, member,
  // `if`, `in`, set and `not`/`-` adds one (`a + b + c` is 3 deep); brackets
  // add none. Deeper expressions are refused with E0004 and never built.
  int max_depth = 100;
  // Brackets open at once, `if`s in one declaration, and `not`s and `-`s
  // still applying, together (E0004): what the generated parser recurses on.
  int max_nesting = 16;
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
