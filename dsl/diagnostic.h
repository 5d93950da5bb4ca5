#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dsl/source.h"

namespace creditd::dsl {

enum class Severity { kError, kWarning };

// One problem found in a policy: a stable code (docs/diagnostics.md lists
// them all), where it is, a one-line message and optional help.
struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // e.g. "E0001"
  SourceSpan span;
  std::string message;  // lowercase, no final period, names in backticks
  std::string help;     // optional advice, printed on its own line
};

// Collects diagnostics up to a limit. Past the limit further diagnostics are
// counted but not kept, so a broken file cannot flood the output.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(int limit = 100) : limit_(limit) {}

  void Add(Diagnostic diagnostic);
  void Error(std::string code, SourceSpan span, std::string message, std::string help = "");
  void Warning(std::string code, SourceSpan span, std::string message, std::string help = "");

  bool has_errors() const { return error_count_ > 0; }
  int error_count() const { return error_count_; }
  int warning_count() const { return warning_count_; }
  // How many diagnostics were dropped because the limit was reached.
  int dropped() const { return dropped_; }
  // The kept diagnostics, sorted by file, line, column, then code.
  std::vector<Diagnostic> Sorted() const;
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  int limit_;
  int error_count_ = 0;
  int warning_count_ = 0;
  int dropped_ = 0;
  std::vector<Diagnostic> diagnostics_;
};

// Renders one diagnostic the way creditctl prints it:
//
//   error[E0301]: policies/a.credit:12:11: cannot add `money` and `percent`
//      12 |   let x = requested_limit + debt_ratio
//         |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
//      = help: ...
std::string FormatDiagnostic(const Diagnostic& diagnostic, const SourceSet& sources);

// Renders all diagnostics, sorted, followed by a summary line
// ("2 errors, 1 warning"); empty when there are none.
std::string FormatDiagnostics(const DiagnosticSink& sink, const SourceSet& sources);

}  // namespace creditd::dsl
