#pragma once

// Policy test files (docs/testing.md): named cases of facts and expected
// outcome, outputs and reasons, run against a policy, with rule, row and bin
// coverage.

#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"

namespace creditd::cli {

// One thing a case can reach: a rule that fires, a band or table row, a
// scorecard bin.
struct CoverageItem {
  std::string what;      // "rule `grade_d`", "band `grade` row 2", ...
  std::string location;  // file:line
};

// What the cases of one policy reached.
class Coverage {
 public:
  explicit Coverage(const engine::CompiledPolicy& policy);
  // Marks what `decision` (evaluated with trace) reached.
  void Add(const engine::Decision& decision);
  int total() const { return static_cast<int>(items_.size()); }
  int covered() const { return static_cast<int>(reached_.size()); }
  std::vector<CoverageItem> Missing() const;

 private:
  std::vector<CoverageItem> items_;
  std::map<std::string, int> index_;  // key -> item
  std::set<int> reached_;
};

struct TestRunOptions {
  bool verbose = false;  // print passing cases too
};

// One case of a test file, as it ran.
struct CaseResult {
  std::string name;
  // What differed from the case's expectations, one line each, as printed;
  // empty when the case passed.
  std::vector<std::string> differences;
};

struct TestFileResult {
  int passed = 0;
  int failed = 0;
  std::vector<CaseResult> cases;  // every case, in the file's order
};

// Runs the cases of one test file (JSON) against `policy`, printing failures
// as readable differences to `out` and adding to `coverage`. A non-OK status
// when the file itself is unreadable or malformed.
absl::StatusOr<TestFileResult> RunTestFile(const std::string& path,
                                           const engine::CompiledPolicy& policy, Coverage& coverage,
                                           const TestRunOptions& options, std::ostream& out);

// The policy a test file is for: its "policy" member (a path relative to the
// test file), or NAME.credit beside NAME.tests.json. NotFound, naming both,
// when that policy file is not there (a usage error).
absl::StatusOr<std::string> PolicyPathFor(const std::string& test_path);

}  // namespace creditd::cli
