#include "dsl/diagnostic.h"

#include <string>

#include "gtest/gtest.h"

namespace creditd::dsl {
namespace {

TEST(DiagnosticTest, FormatsWithSourceLineAndCaret) {
  SourceSet sources;
  const int file = sources.Add("p.credit", "policy p\nlet x = a + b\n");
  Diagnostic d{Severity::kError, "E0301", SourceSpan{file, 2, 9, 2, 14},
               "cannot add `money` and `percent`", "multiply instead"};
  EXPECT_EQ(FormatDiagnostic(d, sources),
            "error[E0301]: p.credit:2:9: cannot add `money` and `percent`\n"
            " 2 | let x = a + b\n"
            "   |         ^^^^^\n"
            "   = help: multiply instead\n");
}

TEST(DiagnosticTest, ShowsAWindowOfALongLine) {
  // A 20,000-character line: only a window around the span is echoed.
  std::string text = "let x = a";
  for (int i = 0; i < 5000; ++i) text += " + a";
  SourceSet sources;
  const int file = sources.Add("p.credit", text + "\n");
  Diagnostic d{Severity::kError, "E0004", SourceSpan{file, 1, 511, 1, 512}, "too deep", ""};
  EXPECT_EQ(FormatDiagnostic(d, sources),
            "error[E0004]: p.credit:1:511: too deep\n"
            " 1 | ..." +
                text.substr(470, 120) +
                "...\n"
                "   |" +
                std::string(4 + 40, ' ') + "^\n");
  // The start of a long line is shown without a leading "...".
  Diagnostic first{Severity::kError, "E0004", SourceSpan{file, 1, 5, 1, 6}, "x", ""};
  EXPECT_EQ(FormatDiagnostic(first, sources),
            "error[E0004]: p.credit:1:5: x\n 1 | " + text.substr(0, 120) + "...\n   |     ^\n");
}

TEST(DiagnosticTest, SortsByLocationAndLimitsCount) {
  SourceSet sources;
  const int file = sources.Add("p.credit", "a\nb\nc\n");
  DiagnosticSink sink(2);
  sink.Warning("W0001", SourceSpan{file, 3, 1, 3, 2}, "third");
  sink.Error("E0001", SourceSpan{file, 1, 1, 1, 2}, "first");
  sink.Error("E0002", SourceSpan{file, 2, 1, 2, 2}, "dropped");
  ASSERT_EQ(sink.Sorted().size(), 2u);
  EXPECT_EQ(sink.Sorted()[0].message, "first");
  EXPECT_EQ(sink.Sorted()[1].message, "third");
  EXPECT_EQ(sink.dropped(), 1);
  EXPECT_EQ(sink.error_count(), 2);
  EXPECT_EQ(sink.warning_count(), 1);
}

}  // namespace
}  // namespace creditd::dsl
