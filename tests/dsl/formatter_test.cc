#include "dsl/formatter.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dsl/parser.h"
#include "gtest/gtest.h"

namespace creditd::dsl {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<ast::File> ParseText(SourceSet& sources, const std::string& path,
                                     const std::string& text) {
  DiagnosticSink sink;
  const int index = sources.Add(path, text);
  absl::StatusOr<std::unique_ptr<ast::File>> file = Parse(sources, index, sink);
  EXPECT_TRUE(file.ok());
  if (!file.ok()) return nullptr;
  EXPECT_FALSE(sink.has_errors()) << path << "\n" << FormatDiagnostics(sink, sources);
  return *std::move(file);
}

std::string FormatText(const std::string& text) {
  SourceSet sources;
  std::unique_ptr<ast::File> file = ParseText(sources, "t.credit", text);
  return file ? Format(*file, sources.file(0)) : "";
}

TEST(FormatterTest, CanonicalFormOfMessyInput) {
  const std::string messy =
      "policy   p version 1.0.0 effective 2026-01-01\n"
      "# the grades\n"
      "enum Grade{A,B,C}\n"
      "input  g :Grade   # from the review\n"
      "input l: money>=0\n"
      "outcome Grade=A\n"
      "reason R \"why\"\n"
      "let x=l*2+1\n"
      "band b on l |<10=>A |[10,20)=>B |>=20=>C\n"
      "table t hit first |g|l=>days:int |A|<=5=>1 |any|any=>30\n"
      "rule r priority 2 when (g=A or g=B) and not l>5 then B R set_it_never_mind\n";
  // The last effect line is an outcome effect with a reason; keep the input valid.
  const std::string valid = messy.substr(0, messy.rfind(" set_it_never_mind")) + "\n";
  EXPECT_EQ(FormatText(valid),
            "policy p\n"
            "  version 1.0.0\n"
            "  effective 2026-01-01\n"
            "\n"
            "# the grades\n"
            "enum Grade { A, B, C }\n"
            "\n"
            "input g: Grade  # from the review\n"
            "input l: money >= 0\n"
            "\n"
            "outcome Grade = A\n"
            "\n"
            "reason R \"why\"\n"
            "\n"
            "let x = l * 2 + 1\n"
            "\n"
            "band b on l\n"
            "  | < 10     => A\n"
            "  | [10, 20) => B\n"
            "  | >= 20    => C\n"
            "\n"
            "table t hit first\n"
            "  | g   | l    => days: int\n"
            "  | A   | <= 5 => 1\n"
            "  | any | any  => 30\n"
            "\n"
            "rule r priority 2\n"
            "  when (g = A or g = B) and not l > 5\n"
            "  then B R\n");
}

TEST(FormatterTest, PrintsTheDecimalPlacesOfAType) {
  const std::string out = FormatText("policy p\ninput a:money ( 3 )\ninput b: money(0)>=0\n");
  EXPECT_NE(out.find("input a: money(3)\ninput b: money(0) >= 0\n"), std::string::npos) << out;
  SourceSet sources;
  std::unique_ptr<ast::File> file = ParseText(sources, "p.credit", out);
  ASSERT_NE(file, nullptr);
  EXPECT_NE(ast::Dump(*file).find("money(3)"), std::string::npos) << ast::Dump(*file);
}

TEST(FormatterTest, KeepsParenthesesPrecedenceNeeds) {
  SourceSet sources;
  std::unique_ptr<ast::File> file =
      ParseText(sources, "p.credit", "policy p\nlet x = (a + b) * c - (d - e)\nlet y = -(a)\n");
  ASSERT_NE(file, nullptr);
  const std::string out = Format(*file, sources.file(0));
  EXPECT_NE(out.find("let x = (a + b) * c - (d - e)\n"), std::string::npos) << out;
}

// Every policy in the repository formats idempotently, and its canonical
// form parses back to the same AST.
TEST(FormatterTest, RoundTripsEveryPolicyInTheRepository) {
  std::vector<fs::path> files;
  for (const char* dir : {"policies", "tests/golden/diagnostics", "fuzz/corpus"}) {
    std::error_code error;
    for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end;
         it.increment(error)) {
      if (it->path().extension() == ".credit") files.push_back(it->path());
    }
    ASSERT_FALSE(error) << dir << ": " << error.message();
  }
  ASSERT_GT(files.size(), 10u);
  int checked = 0;
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    SourceSet sources;
    DiagnosticSink sink;
    const int index = sources.Add(path.string(), text.str());
    absl::StatusOr<std::unique_ptr<ast::File>> original = Parse(sources, index, sink);
    if (!original.ok() || *original == nullptr) continue;  // syntax-error cases
    const std::string once = Format(**original, sources.file(index));
    SourceSet again_sources;
    std::unique_ptr<ast::File> again = ParseText(again_sources, path.string(), once);
    ASSERT_NE(again, nullptr) << path;
    EXPECT_EQ(ast::Dump(*again), ast::Dump(**original)) << path;
    EXPECT_EQ(Format(*again, again_sources.file(0)), once) << path << " is not idempotent";
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace creditd::dsl
