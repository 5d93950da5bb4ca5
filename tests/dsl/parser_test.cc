#include "dsl/parser.h"

#include <algorithm>
#include <functional>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::dsl {
namespace {

using ::testing::HasSubstr;

const char kHeader[] = "policy t\n  version 1.0.0\n  effective 2026-01-01\n\n";

std::string Repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

// How deep an expression tree is, in ast::Expr levels.
int Depth(const ast::Expr* e) {
  if (e == nullptr) return 0;
  int below = 0;
  for (const ast::ExprPtr& arg : e->args) below = std::max(below, Depth(arg.get()));
  if (e->interval != nullptr) {
    below = std::max({below, Depth(e->interval->low.get()), Depth(e->interval->high.get())});
  }
  return below + 1;
}

// The deepest expression of `file`'s outputs and lets.
int DeepestValue(const ast::File& file) {
  int deepest = 0;
  for (const ast::Declaration& d : file.declarations) {
    if (const auto* out = std::get_if<ast::OutputDecl>(&d)) {
      deepest = std::max(deepest, Depth(out->value.get()));
    } else if (const auto* let = std::get_if<ast::LetDecl>(&d)) {
      deepest = std::max(deepest, Depth(let->value.get()));
    }
  }
  return deepest;
}

struct Parsed {
  std::unique_ptr<ast::File> file;
  std::vector<Diagnostic> diagnostics;
};

Parsed ParseWith(const std::string& text, const ParseOptions& options) {
  SourceSet sources;
  DiagnosticSink sink;
  const int index = sources.Add("t.credit", text);
  absl::StatusOr<std::unique_ptr<ast::File>> file = Parse(sources, index, sink, options);
  EXPECT_TRUE(file.ok()) << file.status();
  Parsed parsed;
  if (file.ok()) parsed.file = *std::move(file);
  parsed.diagnostics = sink.Sorted();
  return parsed;
}

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

// An expression of one shape, `levels` ast::Expr levels deep.
using Shape = std::function<std::string(int levels)>;

std::vector<std::pair<std::string, Shape>> Shapes() {
  return {
      {"sum", [](int n) { return "a" + Repeat(" + a", n - 1); }},
      {"product", [](int n) { return "a" + Repeat(" * a", n - 1); }},
      {"and", [](int n) { return "b" + Repeat(" and b", n - 1); }},
      {"or", [](int n) { return "b" + Repeat(" or b", n - 1); }},
      {"comparisons", [](int n) { return "a < 1" + Repeat(" and a < 1", n - 2); }},
      {"members", [](int n) { return "t" + Repeat(".x", n - 1); }},
      {"right nested", [](int n) { return Repeat("a + (", n - 1) + "a" + Repeat(")", n - 1); }},
      {"calls", [](int n) { return Repeat("min(", n - 1) + "a" + Repeat(", 1)", n - 1); }},
      {"ifs", [](int n) { return Repeat("if b then 1 else ", n - 1) + "a"; }},
      {"negations", [](int n) { return Repeat("-", n - 1) + "a"; }},
      {"nots", [](int n) { return Repeat("not ", n - 1) + "b"; }},
      {"sets",
       [](int n) { return "a in {" + Repeat("{", n - 2) + "1" + Repeat("}", n - 2) + "}"; }},
      {"intervals",
       [](int n) {
         return Repeat("a in [0, if ", (n - 1) / 2) + "b" + Repeat(" then 1 else 2]", (n - 1) / 2);
       }},
  };
}

TEST(ParserTest, BuildsExpressionsUpToTheDepthLimitAndNoDeeper) {
  ParseOptions options;
  options.max_depth = 12;
  options.max_nesting = 100;  // only the depth limit applies here
  for (const auto& [name, shape] : Shapes()) {
    // Shapes that grow two levels at a time reach 11 or 12.
    const int fits = name == "intervals" ? 11 : 12;
    Parsed ok = ParseWith(absl::StrCat(kHeader, "output x: int = ", shape(fits), "\n"), options);
    ASSERT_NE(ok.file, nullptr) << name << ": " << ok.diagnostics.front().message;
    EXPECT_EQ(DeepestValue(*ok.file), fits) << name;

    Parsed deep =
        ParseWith(absl::StrCat(kHeader, "output x: int = ", shape(fits + 2), "\n"), options);
    EXPECT_EQ(deep.file, nullptr) << name;
    ASSERT_EQ(deep.diagnostics.size(), 1u) << name;
    EXPECT_EQ(deep.diagnostics[0].code, "E0004") << name;
    EXPECT_THAT(deep.diagnostics[0].message, HasSubstr("more than 12 levels")) << name;
    EXPECT_THAT(deep.diagnostics[0].help, HasSubstr("`let`")) << name;
  }
}

TEST(ParserTest, ChainDepthIsReportedAtTheOperatorPastTheLimit) {
  ParseOptions options;
  options.max_depth = 5;
  // a + b + c + d + e is 5 levels; the fifth `+` makes 6.
  Parsed parsed =
      ParseWith(absl::StrCat(kHeader, "output x: int = a + b + c + d + e + f\n"), options);
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].code, "E0004");
  EXPECT_EQ(parsed.diagnostics[0].span.line, 5);
  EXPECT_EQ(parsed.diagnostics[0].span.column, 35);
  // Chains of different operators, brackets and separate expressions each
  // count on their own.
  Parsed fine = ParseWith(absl::StrCat(kHeader,
                                       "output x: int = (a + b + c) * (a + b + c) * a\n"
                                       "output y: int = a + b + c + d\n"
                                       "rule r when a < b + c + d and b < c + d + e then\n"
                                       "  set x = a + b + c + d refer set y = a + b + c + d\n"),
                          options);
  EXPECT_NE(fine.file, nullptr) << fine.diagnostics.front().message;
}

TEST(ParserTest, LongOperatorChainIsRefusedWithoutCrashing) {
  // 10,000 terms: before the depth limit, the checker, the compiler and the
  // tree's own destructor each recursed once per operator.
  for (const char* op : {" + ", " and ", " or ", " * ", " - "}) {
    std::string text = absl::StrCat(kHeader, "output x: int = a");
    for (int i = 0; i < 10000; ++i) absl::StrAppend(&text, op, "a");
    Parsed parsed = ParseWith(text + "\n", ParseOptions{});
    EXPECT_EQ(parsed.file, nullptr) << op;
    ASSERT_FALSE(parsed.diagnostics.empty()) << op;
    EXPECT_EQ(parsed.diagnostics[0].code, "E0004") << op;
  }
}

TEST(ParserTest, FileOfOperatorsUpToTheSizeLimitIsRefused) {
  // A megabyte of `a+a+...`, the most a file may be.
  const ParseOptions options;
  std::string text = absl::StrCat(kHeader, "output x: int = a");
  while (text.size() + 3 < options.max_bytes) text += "+a";
  text += "\n";
  ASSERT_LE(text.size(), options.max_bytes);
  Parsed parsed = ParseWith(text, options);
  EXPECT_EQ(parsed.file, nullptr);
  ASSERT_EQ(parsed.diagnostics.size(), 1u);
  EXPECT_EQ(parsed.diagnostics[0].code, "E0004");
}

TEST(ParserTest, BracketsNestedTooDeeplyAreRefusedBeforeParsing) {
  ParseOptions options;
  options.max_nesting = 6;
  Parsed fine = ParseWith(absl::StrCat(kHeader, "output x: int = ((((((a))))))\n"), options);
  EXPECT_NE(fine.file, nullptr);
  Parsed deep = ParseWith(absl::StrCat(kHeader, "output x: int = (((((((a)))))))\n"), options);
  ASSERT_EQ(deep.diagnostics.size(), 1u);
  EXPECT_EQ(deep.diagnostics[0].code, "E0004");
  EXPECT_EQ(deep.diagnostics[0].span.column, 23);
  // `not`s and `-`s still applying count with the brackets around them.
  Parsed mixed =
      ParseWith(absl::StrCat(kHeader, "output x: bool = not (not (not (- (- (- a)))))\n"), options);
  ASSERT_EQ(mixed.diagnostics.size(), 1u);
  EXPECT_EQ(mixed.diagnostics[0].code, "E0004");
  // ... but not once their operand is complete.
  Parsed separate = ParseWith(
      absl::StrCat(kHeader, "output x: bool = not a and not b and not c and not d and -e < -f\n"),
      options);
  EXPECT_NE(separate.file, nullptr) << separate.diagnostics.front().message;
}

TEST(ParserTest, DeclarationKeywordInsideBracketsDoesNotResetTheNesting) {
  // Broken input the parser's error recovery reads on from: the count must
  // go on across the keywords, or the parser recurses without bound.
  ParseOptions options;
  options.max_nesting = 8;
  std::string text = kHeader;
  for (int i = 0; i < 200; ++i) text += "let x = (((( ";
  Parsed parsed = ParseWith(text + "\n", options);
  EXPECT_EQ(parsed.file, nullptr);
  ASSERT_FALSE(parsed.diagnostics.empty());
  EXPECT_EQ(parsed.diagnostics[0].code, "E0004");
  // Likewise an `if` still waiting for its `else`.
  text = kHeader;
  for (int i = 0; i < 200; ++i) text += "let x = if a then if b then ";
  parsed = ParseWith(text + "\n", options);
  ASSERT_FALSE(parsed.diagnostics.empty());
  EXPECT_EQ(parsed.diagnostics[0].code, "E0004");
}

TEST(ParserTest, BadFileIndexIsAStatusError) {
  SourceSet sources;
  DiagnosticSink sink;
  EXPECT_FALSE(CheckSyntax(sources, 3, sink).ok());
}

}  // namespace
}  // namespace creditd::dsl
