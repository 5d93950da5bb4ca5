// What `creditctl test` counts as reached: every value is computed for every
// case, so a band, table or scorecard row is reached when a case's facts
// select it, whether or not a rule reads it on that case, and however the
// operands of an `and` are ordered.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/creditctl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_run.h"
#include "tests/engine/test_files.h"

namespace creditd::cli {
namespace {

using ::testing::HasSubstr;

using engine::testing::MakeDir;
using engine::testing::Write;

// A policy whose rules each read `not paused` and one derived value: a
// band, a band read only through a let, a band on an `if`, a table, a
// scorecard. `paused_first` puts `not paused` first in every rule's `and`.
std::string Policy(bool paused_first) {
  auto both = [&](const std::string& value) {
    return paused_first ? absl::StrCat("not paused and ", value)
                        : absl::StrCat(value, " and not paused");
  };
  return absl::StrCat(R"(policy dunning_order
  version 1.0.0
  effective 2026-01-01

enum Outcome { approve, refer }
enum Level { none, reminder, warning, final_notice }
reason ESCALATE "escalate"
reason LARGE "large amount"
reason FEE "fee due"
reason RISK "risky"
reason LATE "late"
input days_overdue: int >= 0
input amount: money >= 0
input paused: bool
outcome Outcome = approve

band next: Level on days_overdue
  | < 5      => none
  | [5, 20)  => reminder
  | [20, 40) => warning
  | >= 40    => final_notice

band size: int on amount
  | < 1_000  => 0
  | >= 1_000 => 1
let large: bool = size = 1

band effective_level: Level on if paused then 0 else days_overdue
  | < 5     => none
  | [5, 40) => warning
  | >= 40   => final_notice

table fee hit first
  | next         => fee: money
  | final_notice => 50
  | any          => 0

scorecard risk
  group overdue weight 100%
    factor days_overdue reason LATE
      | < 20  => 100
      | >= 20 => 0

output fee: money = fee.fee

rule escalate
  when )",
                      both("next = final_notice"), R"(
  then refer ESCALATE

rule large_amount
  when )",
                      both("large"), R"(
  then refer LARGE

rule effective_final
  when )",
                      both("effective_level = final_notice"), R"(
  then refer ESCALATE

rule fee_due
  when )",
                      both("fee.fee > 0"), R"(
  then refer FEE

rule risky
  when )",
                      both("risk.total < 50"), R"(
  then refer RISK
)");
}

// Cases 1 to 3 are paused: `not paused` is false, and with it first the
// `and` stops there; with it second, the band test before it is false for
// `none`, `reminder` and `warning`. Those rows, the small amount, the `if`
// band's `none` row (paused), the table's default row and the first bin
// are reached on those cases only. Case 4 fires every rule.
constexpr char kTests[] = R"({"cases": [
  {"name": "paused, just due", "facts": {"paused": true, "days_overdue": 0, "amount": "10.00"},
   "expect": {"outcome": "approve", "outputs": {"fee": "0"}}},
  {"name": "paused, reminder", "facts": {"paused": true, "days_overdue": 10, "amount": "5000.00"},
   "expect": {"outcome": "approve"}},
  {"name": "paused, warning", "facts": {"paused": true, "days_overdue": 30, "amount": "5000.00"},
   "expect": {"outcome": "approve"}},
  {"name": "final notice", "facts": {"paused": false, "days_overdue": 50, "amount": "5000.00"},
   "expect": {"outcome": "refer", "outputs": {"fee": "50"}}},
  {"name": "warning", "facts": {"paused": false, "days_overdue": 10, "amount": "10.00"},
   "expect": {"outcome": "approve"}}
]})";

TEST(CoverageTest, AnAndThatStopsEarlyStillReachesEveryRowTheFactsSelect) {
  std::string outputs[2];
  for (int first = 0; first < 2; ++first) {
    const std::string dir = MakeDir(first == 1 ? "coverage_paused_first" : "coverage_value_first");
    Write(dir + "/dunning_order.credit", Policy(first == 1));
    Write(dir + "/dunning_order.tests.json", kTests);
    CliRun check = Creditctl({"check", dir});
    EXPECT_EQ(check.out, "no errors, no warnings\n") << check.err;
    CliRun run = Creditctl({"test", "-v", "--min-coverage", "100", dir});
    EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
    // 5 rules, 4 + 2 + 3 band rows, 2 table rows, 2 bins.
    EXPECT_THAT(run.out, HasSubstr("coverage of dunning_order: 18/18 (100.0%)\n"));
    EXPECT_THAT(run.out, HasSubstr("5 cases: 5 passed, 0 failed"));
    outputs[first] = absl::StrReplaceAll(run.out, {{dir, "DIR"}});

    // Without the paused cases, those rows are not reached: it is the
    // paused cases that reach them.
    Write(dir + "/unpaused.tests.json",
          R"({"policy": "dunning_order.credit", "cases": [
            {"name": "final notice", "facts": {"paused": false, "days_overdue": 50,
             "amount": "5000.00"}, "expect": {"outcome": "refer"}}]})");
    CliRun unpaused = Creditctl({"test", dir + "/unpaused.tests.json"});
    for (const char* row : {"band `next` row 1", "band `next` row 2", "band `next` row 3",
                            "band `size` row 1", "band `effective_level` row 1",
                            "table `fee` row 2", "factor `risk.days_overdue` bin 1"}) {
      EXPECT_THAT(unpaused.out, HasSubstr(absl::StrCat("not reached: ", row)));
    }
  }
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(CoverageTest, ACaseThatStopsWithAnErrorReachesNothing) {
  // Written in the condition itself, a division is evaluated only when the
  // `and` gets to it: in this order it fails the case with days at 0, and
  // the case reaches nothing. (A let would be computed for every case, in
  // either order.)
  const std::string dir = MakeDir("coverage_error");
  Write(dir + "/ratio.credit", R"(policy ratio
  version 1.0.0
  effective 2026-01-01

enum Outcome { approve, refer }
reason HIGH "high"
input days: int >= 0
input amount: money >= 0
outcome Outcome = approve

band length: int on days
  | < 30  => 0
  | >= 30 => 1

output length: int = length

rule high
  when amount / days > 100 and days > 0
  then refer HIGH
)");
  Write(dir + "/ratio.tests.json", R"({"cases": [
    {"name": "not due", "facts": {"days": 0, "amount": "10.00"}, "expect": {"outcome": "approve"}},
    {"name": "long", "facts": {"days": 40, "amount": "10000.00"}, "expect": {"outcome": "refer"}}
  ]})");
  CliRun run = Creditctl({"test", dir});
  EXPECT_EQ(run.code, kExitFailure);
  EXPECT_THAT(run.out, HasSubstr("FAIL  not due"));
  EXPECT_THAT(run.out, HasSubstr("not reached: band `length` row 1"));
}

}  // namespace
}  // namespace creditd::cli
