#pragma once

// creditctl audit list|export: the decision log's records, filtered, for a
// reviewer to read (list) and for spreadsheets and BI tools (export).

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"
#include "cli/creditctl.h"

namespace CLI {
class App;
}

namespace creditd::cli {

// Adds `list` and `export` to the `audit` command.
void AddAuditReviewCommands(CLI::App& audit, Context& context);
// creditctl audit approvals (audit_approvals.cc).
void AddAuditApprovalsCommand(CLI::App& audit, Context& context);

// A value from the log as one terminal line shows it: control characters
// (C0, DEL) and bytes that are not UTF-8 as \xNN, C1 controls, line and
// paragraph separators and bidirectional controls as \u{XXXX}, a backslash
// as \\, so a record can neither start a line, nor send an escape sequence,
// nor reorder what is shown, nor pass for an escape. Never truncated.
std::string ShownText(absl::string_view text);

// A JSON string literal for `text`: `"` and `\` escaped, control
// characters (C0, DEL, C1) and U+2028, U+2029 as \uXXXX, and each byte that
// is not part of well-formed UTF-8 replaced by U+FFFD.
void AppendJsonString(absl::string_view text, std::string* out);

// `json` as a JSON value on one line, when it is one (RFC 8259): without
// insignificant whitespace, numbers as written, strings as
// AppendJsonString writes them. Anything else (empty, a syntax error, a
// NUL byte) is written as a JSON string of its text.
void AppendJsonValue(absl::string_view json, std::string* out);

// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF,
// quotes doubled. Bytes that are not UTF-8 become U+FFFD, and a field
// beginning with =, +, -, @, tab or CR gets a leading single quote, so no
// spreadsheet takes it for a formula (OWASP's advice on CSV injection).
void AppendCsvField(absl::string_view text, std::string* out);

// A progress line for a terminal, "[######......]  50%  500/1000 records",
// redrawn in place at most every 100 ms. Write it only to a terminal.
class ProgressBar {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  ProgressBar(
      std::ostream& out, int64_t total,
      Clock clock = [] { return std::chrono::steady_clock::now(); });
  // `done` records of the total; redraws when 100 ms have passed since the
  // last drawing (the first call always draws).
  void Update(int64_t done);
  // Draws `done` a last time and ends the line.
  void Finish(int64_t done);
  // Ends the line drawn so far, if any, so that a message starts on a line
  // of its own.
  void Abandon();

 private:
  void Draw(int64_t done);

  std::ostream& out_;
  int64_t total_;
  Clock clock_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace creditd::cli
