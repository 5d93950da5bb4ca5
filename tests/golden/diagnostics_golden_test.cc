// Golden tests for diagnostics: every tests/golden/diagnostics/NAME.credit
// with a NAME.expected beside it is loaded, checked and analysed, and the
// printed diagnostics must equal NAME.expected exactly. Files without an
// .expected are libraries the cases import.
//
// A case may be a directory NAME/ instead, loaded as creditd loads its policy
// directory (engine::LoadBundle); when it holds a NAME/.served/ directory,
// that is loaded and installed first, as the versions served before, and
// the case is held against them (engine::Registry::Bind).
//
// A case may set options in its first lines:
//   # test: max_bytes=200 max_depth=8 max_nesting=8 max_files=2 max_boxes=10 max_work=500
//   #       max_lookup_words=1000
//
// Set CREDITD_UPDATE_GOLDEN=1 to rewrite the .expected files.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dsl/diagnostic.h"
#include "engine/bundle.h"
#include "engine/checker.h"
#include "gtest/gtest.h"

namespace creditd {
namespace {

namespace fs = std::filesystem;

const char kDir[] = "tests/golden/diagnostics";

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Options {
  engine::LoadOptions load;
  engine::CheckOptions check;
};

Options OptionsFor(const std::string& text) {
  Options options;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "# test:")) continue;
    for (absl::string_view item : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::vector<std::string> kv = absl::StrSplit(item, '=');
      int value = 0;
      if (kv.size() != 2 || !absl::SimpleAtoi(kv[1], &value)) continue;
      if (kv[0] == "max_bytes") options.load.parse.max_bytes = static_cast<size_t>(value);
      if (kv[0] == "max_depth") options.load.parse.max_depth = value;
      if (kv[0] == "max_nesting") options.load.parse.max_nesting = value;
      if (kv[0] == "max_files") options.load.max_files = value;
      if (kv[0] == "max_boxes") options.check.max_analysis_boxes = value;
      if (kv[0] == "max_work") options.check.max_analysis_work = value;
      if (kv[0] == "max_lookup_words") options.check.max_table_lookup_words = value;
    }
  }
  return options;
}

// A directory case: the report of its load, held against `.served/`.
std::string BundleCase(const fs::path& dir) {
  engine::DiskFileReader reader;
  engine::Registry registry;
  std::error_code error;
  if (fs::is_directory(dir / ".served", error)) {
    absl::StatusOr<engine::BundleLoad> served =
        engine::LoadBundle((dir / ".served").string(), reader);
    if (!served.ok()) return std::string(served.status().message());
    if (served->bundle == nullptr) return "the served versions do not load:\n" + served->report;
    if (absl::Status status = registry.Install(served->bundle); !status.ok()) {
      return std::string(status.message());
    }
  }
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(dir.string(), reader);
  if (!load.ok()) return std::string(load.status().message());
  registry.Bind(*load);
  return load->report;
}

std::string CheckCase(const std::string& name) {
  std::error_code error;
  if (fs::is_directory(fs::path(kDir) / name, error)) return BundleCase(fs::path(kDir) / name);
  // Paths relative to the golden directory, as the server reads its own.
  engine::PolicyDirReader reader(kDir);
  const std::string path = name + ".credit";
  const Options options = OptionsFor(Slurp(fs::path(kDir) / path));
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<engine::Program>> program =
      engine::LoadProgram(path, reader, sink, options.load);
  if (!program.ok()) return std::string(program.status().message());
  if (sink.has_errors()) return dsl::FormatDiagnostics(sink, (*program)->sources);
  dsl::SourceSet* sources = &(*program)->sources;
  absl::StatusOr<std::unique_ptr<engine::CheckedPolicy>> policy =
      engine::Check(*std::move(program), sink, options.check);
  if (!policy.ok()) return std::string(policy.status().message());
  sources = &(*policy)->program->sources;
  return dsl::FormatDiagnostics(sink, *sources);
}

std::vector<std::string> Cases() {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(kDir, error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() == ".expected") names.push_back(it->path().stem().string());
  }
  EXPECT_FALSE(error) << kDir << ": " << error.message();
  std::sort(names.begin(), names.end());
  return names;
}

class DiagnosticsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(DiagnosticsGolden, MatchesExpected) {
  const std::string name = GetParam();
  const std::string actual = CheckCase(name);
  const fs::path expected_path = fs::path(kDir) / (name + ".expected");
  if (std::getenv("CREDITD_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(actual, Slurp(expected_path)) << "golden case " << name;
  EXPECT_FALSE(actual.empty()) << "a golden case must produce diagnostics";
}

INSTANTIATE_TEST_SUITE_P(Cases, DiagnosticsGolden, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

// Every code in docs/diagnostics.md has at least one golden case.
TEST(DiagnosticsGoldenCoverage, EveryDocumentedCodeHasACase) {
  const std::string docs = Slurp("docs/diagnostics.md");
  std::string all;
  for (const std::string& name : Cases()) {
    all += Slurp(fs::path(kDir) / (name + ".expected"));
  }
  size_t pos = 0;
  int codes = 0;
  while ((pos = docs.find("\n## ", pos)) != std::string::npos) {
    pos += 4;
    const std::string code = docs.substr(pos, 5);
    if (code[0] != 'E' && code[0] != 'W') continue;
    ++codes;
    // A defect of the compiler: a case reproducing it would be fixed.
    if (code == "E0010") continue;
    // Needs signed approvals and an approvers file: tests/cli/approve_test.cc.
    if (code == "E0603") continue;
    EXPECT_NE(all.find("[" + code + "]"), std::string::npos) << code << " has no golden case";
  }
  EXPECT_GE(codes, 40);
}

}  // namespace
}  // namespace creditd
