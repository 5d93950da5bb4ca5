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

// A band on days overdue, for the tests below.
const char kDueLevel[] = R"(
enum Level { none, reminder, warning, final_notice }
input days_overdue: int >= 0
input paused: bool
band due_level: Level on days_overdue
  | < 5      => none
  | [5, 20)  => reminder
  | [20, 40) => warning
  | >= 40    => final_notice
output paused_out: bool = paused
)";

// The diagnostics of one rule `r` with `condition`, after `declarations`;
// they must hold no error.
std::string RuleDiagnostics(const std::string& declarations, const std::string& condition) {
  std::string diagnostics =
      Diagnostics(declarations + "rule r\n  when " + condition + "\n  then refer R\n");
  EXPECT_THAT(diagnostics, Not(HasSubstr("error["))) << condition;
  return diagnostics;
}

TEST(AnalysisTest, ABandTellsWhereItsSubjectLies) {
  for (const char* impossible : {
           "due_level = final_notice and days_overdue < 40",
           "days_overdue < 40 and due_level = final_notice",
           "due_level >= warning and days_overdue in [0, 19]",
           "not (due_level <= warning) and days_overdue != 40 and days_overdue <= 40",
           "due_level in {none, reminder} and not paused and days_overdue >= 20",
           "(due_level = none or due_level = final_notice) and days_overdue in [10, 30]",
           "not (due_level = none or days_overdue >= 5)",
       }) {
    SCOPED_TRACE(impossible);
    EXPECT_THAT(RuleDiagnostics(kDueLevel, impossible),
                HasSubstr("help: the condition asks contradictory things of `days_overdue` "
                          "(through band `due_level`)"));
  }
  for (const char* possible : {
           "due_level = final_notice and days_overdue >= 40",
           "due_level = final_notice and days_overdue = 40",
           "due_level != final_notice and days_overdue < 40",
           "due_level >= warning and days_overdue in [0, 20]",
           "(due_level = none or due_level = final_notice) and days_overdue in [4, 30]",
           "due_level = final_notice or days_overdue < 40",
           "not (due_level = final_notice and days_overdue >= 40)",
       }) {
    SCOPED_TRACE(possible);
    EXPECT_THAT(RuleDiagnostics(kDueLevel, possible), Not(HasSubstr("W0503")));
  }
}

TEST(AnalysisTest, ABandOnABandOnALetThatNamesAnInput) {
  const std::string chain = std::string(kDueLevel) + R"(
let overdue = days_overdue
band severe: bool on due_level
  | >= warning => true
  | < warning  => false
band escalation: int on overdue
  | < 40  => 0
  | >= 40 => 1
)";
  // `severe` is true from warning up, so from 20 days.
  EXPECT_THAT(RuleDiagnostics(chain, "severe and overdue < 20"),
              HasSubstr("contradictory things of `days_overdue` (through band `due_level`, "
                        "band `severe` and let `overdue`)"));
  EXPECT_THAT(RuleDiagnostics(chain, "severe and overdue < 21"), Not(HasSubstr("W0503")));
  EXPECT_THAT(RuleDiagnostics(chain, "not severe and days_overdue > 100"), HasSubstr("W0503"));
  EXPECT_THAT(RuleDiagnostics(chain, "not severe and days_overdue < 20"), Not(HasSubstr("W0503")));
  EXPECT_THAT(RuleDiagnostics(chain, "escalation = 1 and due_level = warning"),
              HasSubstr("contradictory things of `days_overdue`"));
}

TEST(AnalysisTest, ABandRowWhoseValueIsNoConstantMayGiveAnything) {
  const std::string declarations = R"(
input days: int >= 0
input allowance: int in [0, 100]
band limit: int on days
  | < 10  => 0
  | >= 10 => allowance
)";
  EXPECT_THAT(RuleDiagnostics(declarations, "limit = 5 and days >= 10"), Not(HasSubstr("W0503")));
  EXPECT_THAT(RuleDiagnostics(declarations, "limit = 5 and days < 10"),
              HasSubstr("contradictory things of `days` (through band `limit`)"));
}

TEST(AnalysisTest, ABandOnAComputedValueIsNotFollowed) {
  const std::string declarations = R"(
input a: int in [0, 100]
input b: int in [0, 100]
band high: bool on a + b
  | >= 100 => true
  | < 100  => false
)";
  EXPECT_THAT(RuleDiagnostics(declarations, "high and a < 10"), Not(HasSubstr("W0503")));
}

// A ladder and a boolean let defined from it.
const char kExplained[] = R"(
enum Ladder { none, yellow, red }
input days_past_due: int in [-365, 3650]
input has_reasonable_explanation: bool
input dunning_block: bool
band ladder: Ladder on days_past_due
  | < 30     => none
  | [30, 89] => yellow
  | >= 90    => red
let explained: bool = ladder = yellow and has_reasonable_explanation
let accepted: bool = explained and not dunning_block
)";

TEST(AnalysisTest, ABooleanLetStandsForItsDefinition) {
  for (const char* impossible : {
           "explained and not has_reasonable_explanation",
           "explained and ladder = red",
           "explained and days_past_due > 89",
           "accepted and dunning_block",
           "accepted and days_past_due < 0",
           "explained = true and explained = false",
           "explained != false and not has_reasonable_explanation",
           "not (not explained or has_reasonable_explanation)",
       }) {
    SCOPED_TRACE(impossible);
    EXPECT_THAT(RuleDiagnostics(kExplained, impossible), HasSubstr("W0503"));
  }
  for (const char* possible : {
           "explained and days_past_due = 89",
           "not explained and has_reasonable_explanation",
           "explained = false and ladder = yellow",
           "not accepted and explained",
           "accepted or dunning_block",
       }) {
    SCOPED_TRACE(possible);
    EXPECT_THAT(RuleDiagnostics(kExplained, possible), Not(HasSubstr("W0503")));
  }
  EXPECT_THAT(RuleDiagnostics(kExplained, "accepted and dunning_block"),
              HasSubstr("contradictory things of `dunning_block` (through let `accepted`)"));
}

// Credit terms by grade and segment, the last row a default.
const char kTerms[] = R"(
enum Grade { A, B, C, D }
enum Segment { new, existing, strategic }
input grade: Grade
input segment: Segment
input score: int in [0, 100]
band score_grade: Grade on score
  | >= 80    => A
  | [65, 80) => B
  | [50, 65) => C
  | < 50     => D
table terms hit first
  | grade | segment   => base_limit: money, days: int
  | A     | strategic => 5_000_000,         90
  | A     | any       => 2_000_000,         60
  | B     | any       => 1_000_000,         60
  | any   | any       => 0,                 0
table by_score hit unique
  | score_grade | segment => limit: money
  | A           | any     => 1_000_000
  | B           | any     => 500_000
  | {C, D}      | any     => 0
table by_priority hit priority
  | grade | segment  => limit: money
  | A     | any      => 1_000_000
  | any   | any      => 0
output a: money = terms.base_limit
output b: money = by_score.limit
output c: money = by_priority.limit
)";

TEST(AnalysisTest, ATableResultTellsWhichRowsGaveIt) {
  for (const char* impossible : {
           // Only the default row gives 0, and grades A and B never reach it.
           "terms.base_limit = 0 and grade = A",
           "terms.base_limit < 1_000_000 and grade in {A, B}",
           "terms.days = 90 and segment != strategic",
           "not (terms.base_limit > 0) and grade <= B",
           // Through the table to the band on the score.
           "by_score.limit = 0 and score >= 50 and score >= 65",
           "by_score.limit > 0 and score < 65 and score < 50",
           "by_score.limit = 500_000 and score >= 80",
           // A limit no row gives.
           "terms.base_limit = 7",
       }) {
    SCOPED_TRACE(impossible);
    EXPECT_THAT(RuleDiagnostics(kTerms, impossible), HasSubstr("W0503"));
  }
  for (const char* possible : {
           "terms.base_limit = 0 and grade = C",
           "terms.base_limit = 2_000_000 and segment = existing",
           "terms.days = 60 and grade = B",
           "by_score.limit = 0 and score = 64",
           // Under `hit priority` the rows before do not hide the default.
           "by_priority.limit = 0 and grade = A",
       }) {
    SCOPED_TRACE(possible);
    EXPECT_THAT(RuleDiagnostics(kTerms, possible), Not(HasSubstr("W0503")));
  }
  EXPECT_THAT(RuleDiagnostics(kTerms, "by_score.limit = 500_000 and score >= 80"),
              HasSubstr("contradictory things of `score` (through band `score_grade` and table "
                        "`by_score`)"));
  EXPECT_THAT(RuleDiagnostics(kTerms, "terms.base_limit = 0 and grade = A"),
              HasSubstr("contradictory things of `grade` (through table `terms`)"));
}

TEST(AnalysisTest, ATableCellThatIsNoConstantMayGiveAnything) {
  const std::string declarations = R"(
input a: int in [0, 100]
input b: int in [0, 100]
input limit: int in [0, 100]
table t hit first
  | a    | b   => x: int
  | < 10 | any => 1
  | any  | < 5 => 2
  | any  | any => limit
output x: int = t.x
)";
  EXPECT_THAT(RuleDiagnostics(declarations, "t.x = 2 and a < 10"), HasSubstr("W0503"));
  EXPECT_THAT(RuleDiagnostics(declarations, "t.x = 5 and a < 10"), HasSubstr("W0503"));
  // Row 3 may give 1 or 2 too.
  EXPECT_THAT(RuleDiagnostics(declarations, "t.x = 2 and b >= 5"), Not(HasSubstr("W0503")));
  EXPECT_THAT(RuleDiagnostics(declarations, "t.x = 1 and a >= 10"), Not(HasSubstr("W0503")));
}

TEST(AnalysisTest, ATableRowMayAskImpossibleThingsOfDependentColumns) {
  const std::string declarations = std::string(kDueLevel) + R"(
table fee hit first
  | due_level    | days_overdue | days_overdue > 60 => fee: int
  | final_notice | [40, 60]     | false             => 1
  | final_notice | any          | true              => 2
  | warning      | < 40         | any               => 3
  | warning      | >= 40        | any               => 4
  | any          | any          | any               => 0
output fee: int = fee.fee
)";
  const std::string diagnostics = Diagnostics(declarations);
  EXPECT_THAT(diagnostics, HasSubstr("row 4 of table `fee` never matches: it asks contradictory "
                                     "things of `days_overdue` (through band `due_level`)"));
  EXPECT_THAT(diagnostics, Not(HasSubstr("row 1 of")));
  EXPECT_THAT(diagnostics, Not(HasSubstr("row 2 of")));
  EXPECT_THAT(diagnostics, Not(HasSubstr("row 3 of")));
  EXPECT_THAT(diagnostics, Not(HasSubstr("E04")));
}

TEST(AnalysisTest, FollowingThatMultipliesCasesFallsBackToTheConditionAsWritten) {
  // Each let is an `or`: inlined, nine of them make 2^9 cases, past the
  // 256 the analysis takes; as written, the condition has one.
  std::string declarations = "input a: int in [0, 9]\ninput b: int in [0, 9]\n";
  std::string condition;
  for (int i = 0; i < 9; ++i) {
    declarations += "let l" + std::to_string(i) + ": bool = a = " + std::to_string(i) +
                    " or b = " + std::to_string(i) + "\n";
    condition += (i == 0 ? "l" : " and l") + std::to_string(i);
  }
  const std::string diagnostics = RuleDiagnostics(declarations, condition + " and a > 20");
  EXPECT_THAT(diagnostics, Not(HasSubstr("W0507")));
  EXPECT_THAT(diagnostics, HasSubstr("`a` can only be [0, 9], but the condition needs >= 21"));
}

// The work units the analysis of `declarations` spends.
int64_t Work(const std::string& declarations) {
  const std::string text = Header() +
                           "enum Outcome { approve, refer }\noutcome Outcome = approve\n"
                           "reason R \"r\"\n" +
                           declarations;
  MemoryReader reader({{"t.credit", text}});
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = LoadAndCheck("t.credit", reader, sink);
  if (!checked.ok()) return -1;
  return (*checked)->analysis_work;
}

TEST(AnalysisTest, InliningLetsCostsWorkAndIsBounded) {
  // Each let uses the one before twice: inlining them all would visit 2^30
  // conditions. It stops after a bounded number of lets, each one paid for.
  std::string declarations = "input a: int in [0, 9]\nlet l0: bool = a > 3\n";
  for (int i = 1; i <= 30; ++i) {
    declarations += "let l" + std::to_string(i) + ": bool = l" + std::to_string(i - 1) + " and l" +
                    std::to_string(i - 1) + "\n";
  }
  const int64_t inlined = Work(declarations + "rule r when l30 then refer R\n");
  const int64_t plain = Work(declarations + "input c: bool\nrule r when c then refer R\n");
  EXPECT_GT(inlined, plain + 64);
  EXPECT_LT(inlined, plain + 10'000);
  // Inlined as far as it goes, the contradiction is found.
  EXPECT_THAT(RuleDiagnostics(declarations, "l3 and a < 2"), HasSubstr("W0503"));
}

}  // namespace
}  // namespace creditd::engine
