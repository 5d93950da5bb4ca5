#include "dsl/parser.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::dsl {
namespace {

using ::testing::HasSubstr;

DiagnosticSink Check(const std::string& text, SourceSet& sources) {
  DiagnosticSink sink;
  const int file = sources.Add("test.credit", text);
  EXPECT_TRUE(CheckSyntax(sources, file, sink).ok());
  return sink;
}

TEST(ParserTest, AcceptsWellFormedPolicy) {
  SourceSet sources;
  DiagnosticSink sink = Check(R"(policy demo
  version 1.0.0
  effective 2026-01-01
  owner "Credit Risk"

enum Outcome { approve, refer, decline }
input limit: money >= 0   # asked for
outcome Outcome = approve
rule big_limit
  when limit > 1_000_000
  then refer
)",
                              sources);
  EXPECT_FALSE(sink.has_errors()) << FormatDiagnostics(sink, sources);
}

TEST(ParserTest, ReportsSyntaxErrorWithLocation) {
  SourceSet sources;
  DiagnosticSink sink = Check("policy demo\ninput limit money\n", sources);
  ASSERT_TRUE(sink.has_errors());
  const Diagnostic d = sink.Sorted().front();
  EXPECT_EQ(d.code, "E0001");
  EXPECT_EQ(d.span.line, 2);
  EXPECT_EQ(d.span.column, 13);
}

TEST(ParserTest, RefusesOversizedFile) {
  SourceSet sources;
  DiagnosticSink sink;
  const int file = sources.Add("big.credit", std::string(2048, ' '));
  ParseOptions options;
  options.max_bytes = 1024;
  ASSERT_TRUE(CheckSyntax(sources, file, sink, options).ok());
  ASSERT_EQ(sink.error_count(), 1);
  EXPECT_EQ(sink.Sorted().front().code, "E0002");
  EXPECT_THAT(sink.Sorted().front().message, HasSubstr("too large"));
}

TEST(ParserTest, BadFileIndexIsAStatusError) {
  SourceSet sources;
  DiagnosticSink sink;
  EXPECT_FALSE(CheckSyntax(sources, 3, sink).ok());
}

}  // namespace
}  // namespace creditd::dsl
