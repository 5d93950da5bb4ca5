#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "dsl/diagnostic.h"
#include "dsl/source.h"

namespace creditd::dsl {

// Bounds that keep any input, however malformed, cheap to reject.
struct ParseOptions {
  size_t max_bytes = 1 << 20;  // larger files are refused with E0002
  int max_nesting = 48;        // brackets and nested `if`/`not`/`-` per declaration
};

// Parses file `file` of `sources`, reporting syntax errors to `sink`.
// Returns OK when the parser ran (check `sink` for errors); a non-OK status
// only when `file` is not a valid index.
absl::Status CheckSyntax(const SourceSet& sources, int file, DiagnosticSink& sink,
                         const ParseOptions& options = {});

}  // namespace creditd::dsl
