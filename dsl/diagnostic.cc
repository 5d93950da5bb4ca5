#include "dsl/diagnostic.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace creditd::dsl {

void DiagnosticSink::Add(Diagnostic diagnostic) {
  if (diagnostic.severity == Severity::kError) {
    ++error_count_;
  } else {
    ++warning_count_;
  }
  if (static_cast<int>(diagnostics_.size()) >= limit_) {
    ++dropped_;
    return;
  }
  diagnostics_.push_back(std::move(diagnostic));
}

void DiagnosticSink::Error(std::string code, SourceSpan span, std::string message,
                           std::string help) {
  Add({Severity::kError, std::move(code), span, std::move(message), std::move(help)});
}

void DiagnosticSink::Warning(std::string code, SourceSpan span, std::string message,
                             std::string help) {
  Add({Severity::kWarning, std::move(code), span, std::move(message), std::move(help)});
}

std::vector<Diagnostic> DiagnosticSink::Sorted() const {
  std::vector<Diagnostic> sorted = diagnostics_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.span.file, a.span.line, a.span.column, a.code) <
           std::tie(b.span.file, b.span.line, b.span.column, b.code);
  });
  return sorted;
}

namespace {

// A source line longer than this is shown as a window around the span:
// a diagnostic never echoes a whole line of a file (which may be the whole
// file) back to whoever sent it.
constexpr size_t kMaxExcerpt = 120;
constexpr size_t kContextBefore = 40;

// Moves `at` back to the start of the UTF-8 character it is in.
size_t CharStart(absl::string_view text, size_t at) {
  while (at > 0 && at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) {
    --at;
  }
  return at;
}

}  // namespace

std::string FormatDiagnostic(const Diagnostic& d, const SourceSet& sources) {
  std::string out =
      absl::StrCat(d.severity == Severity::kError ? "error" : "warning", "[", d.code, "]: ");
  const bool known = d.span.known() && d.span.file < sources.size();
  if (known) {
    const SourceFile& file = sources.file(d.span.file);
    absl::StrAppend(&out, file.path(), ":", d.span.line, ":", d.span.column, ": ", d.message, "\n");
    absl::string_view line = file.Line(d.span.line);
    std::string gutter = absl::StrCat(d.span.line);
    std::string pad(gutter.size(), ' ');
    int start = std::max(1, d.span.column);
    int end =
        d.span.end_line == d.span.line ? d.span.end_column : static_cast<int>(line.size()) + 1;
    end = std::min(end, static_cast<int>(line.size()) + 1);
    // A long line: the window from a little before the span, cut at
    // character boundaries and marked with "..." where it was cut.
    std::string before, after;
    if (line.size() > kMaxExcerpt) {
      const size_t at = static_cast<size_t>(std::min(start, static_cast<int>(line.size()))) - 1;
      const size_t from = CharStart(line, at > kContextBefore ? at - kContextBefore : 0);
      const size_t to = CharStart(line, std::min(line.size(), from + kMaxExcerpt));
      if (from > 0) before = "...";
      if (to < line.size()) after = "...";
      line = line.substr(from, to - from);
      const int shift = static_cast<int>(from) - static_cast<int>(before.size());
      start -= shift;
      end = std::min(end - shift, static_cast<int>(before.size() + line.size()) + 1);
    }
    absl::StrAppend(&out, " ", gutter, " | ", before, line, after, "\n");
    int width = std::max(1, end - start);
    std::string marker(before.size(), ' ');
    // Keep tabs so the caret lines up under the source text.
    for (int i = static_cast<int>(before.size()) + 1;
         i < start && i <= static_cast<int>(before.size() + line.size()); ++i) {
      marker += line[static_cast<size_t>(i - 1) - before.size()] == '\t' ? '\t' : ' ';
    }
    marker.append(static_cast<size_t>(width), '^');
    absl::StrAppend(&out, " ", pad, " | ", marker, "\n");
    if (!d.help.empty()) absl::StrAppend(&out, " ", pad, " = help: ", d.help, "\n");
  } else {
    absl::StrAppend(&out, d.message, "\n");
    if (!d.help.empty()) absl::StrAppend(&out, "  = help: ", d.help, "\n");
  }
  return out;
}

std::string FormatDiagnostics(const DiagnosticSink& sink, const SourceSet& sources) {
  std::string out;
  for (const Diagnostic& d : sink.Sorted()) absl::StrAppend(&out, FormatDiagnostic(d, sources));
  if (sink.dropped() > 0) {
    absl::StrAppend(&out, "note: ", sink.dropped(), " more diagnostics not shown\n");
  }
  if (sink.error_count() + sink.warning_count() > 0) {
    absl::StrAppendFormat(&out, "%d error%s, %d warning%s\n", sink.error_count(),
                          sink.error_count() == 1 ? "" : "s", sink.warning_count(),
                          sink.warning_count() == 1 ? "" : "s");
  }
  return out;
}

}  // namespace creditd::dsl
