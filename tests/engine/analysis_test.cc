// The static analysis (engine/analysis.cc): what it reports, and what it must
// not report, on small policies.
#include <string>

#include "dsl/diagnostic.h"
#include "engine/checker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using ::testing::HasSubstr;
using testing::Header;
using testing::MemoryReader;
using ::testing::Not;

// The diagnostics of checking `declarations` under a standard header, with
// an outcome and a reason declared.
std::string Diagnostics(const std::string& declarations) {
  const std::string text = Header() +
                           "enum Outcome { approve, refer }\noutcome Outcome = approve\n"
                           "reason R \"r\"\n" +
                           declarations;
  MemoryReader reader({{"t.credit", text}});
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = LoadAndCheck("t.credit", reader, sink);
  if (!checked.ok()) return std::string(checked.status().message());
  return dsl::FormatDiagnostics(sink, (*checked)->program->sources);
}

TEST(AnalysisTest, ASumOfRowsIsNotOneOfTheirCells) {
  // Rows 1 and 2 both match a = 7: the fee is 1 + 2 = 3, which no row of
  // the band takes.
  const std::string fees = R"(
input a: int in [0, 9]
table fees hit collect sum
  | a    => fee: int
  | >= 0 => 1
  | >= 5 => 2
band size: int on fees.fee
  | 1 => 10
  | 2 => 20
output x: int = size
)";
  EXPECT_THAT(Diagnostics(fees), HasSubstr("error[E0401]"));
  // The smallest and the largest of the matching rows' cells is one of them.
  std::string largest = fees;
  largest.replace(largest.find("collect sum"), 11, "collect max");
  EXPECT_THAT(Diagnostics(largest), Not(HasSubstr("E0401")));
}

}  // namespace
}  // namespace creditd::engine
