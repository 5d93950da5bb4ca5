// Dates lie in 0001-01-01..9999-12-31: facts, literals and arithmetic.
#include <cstdint>
#include <string>

#include "engine/arithmetic.h"
#include "engine/evaluator.h"
#include "engine/value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using ::testing::HasSubstr;
using testing::Header;
using testing::Out;

TEST(DatesTest, TheRangeIsYearsOneTo9999) {
  EXPECT_EQ(ParseDate("0001-01-01").value(), kMinDate);
  EXPECT_EQ(ParseDate("9999-12-31").value(), kMaxDate);
  EXPECT_EQ(ParseDate("1970-01-01").value(), 0);
  EXPECT_EQ(FormatDate(kMinDate), "0001-01-01");
  EXPECT_EQ(FormatDate(kMaxDate), "9999-12-31");
  EXPECT_EQ(ParseDate("0000-12-31").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseDate("2026-02-29").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDateAnyYear("0000-12-31").value(), kMinDate - 1);
  EXPECT_EQ(ParseDateAnyYear("0000-03-01").value(), kMinDate - 306);
}

TEST(DatesTest, FormatDateIsDefinedForEveryDayCount) {
  // These overflowed int64 inside the calendar arithmetic (UBSan: signed
  // overflow) when date arithmetic produced them.
  EXPECT_FALSE(FormatDate(INT64_MAX).empty());
  EXPECT_FALSE(FormatDate(INT64_MIN).empty());
  EXPECT_EQ(FormatDate(kMaxDate + 1), "10000-01-01");
}

TEST(DatesTest, AFactOutsideTheRangeIsRefused) {
  auto policy = CompileText(Header() + "input d: date\noutput x: date = d\n");
  ASSERT_NE(policy, nullptr);
  for (const char* text : {"0001-01-01", "9999-12-31"}) {
    Facts facts;
    facts.Add("d", FactValue::Date(text));
    absl::StatusOr<Decision> d = Evaluate(*policy, facts);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(Out(*d, "x"), text);
  }
  Facts facts;
  facts.Add("d", FactValue::Date("0000-06-30"));
  std::vector<FactProblem> problems;
  absl::StatusOr<Decision> d = Evaluate(*policy, facts, {}, &problems);
  ASSERT_FALSE(d.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].problem, "`0000-06-30` is outside the dates 0001-01-01 to 9999-12-31");
  // Decisions logged before the range was enforced took year 0000.
  EvalOptions lenient;
  lenient.facts = FactRules::kLenient;
  d = Evaluate(*policy, facts, lenient);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "x"), "0000-06-30");
}

TEST(DatesTest, ArithmeticLeavingTheRangeIsAnEvaluationError) {
  auto policy = CompileText(Header() + R"(
input d: date
input n: int
let later = d + n
let earlier = d - n
let also_later = n + d
output x: int = later - earlier + (also_later - d)
)");
  ASSERT_NE(policy, nullptr);
  auto run = [&](const char* date, int64_t n) {
    Facts facts;
    facts.Add("d", FactValue::Date(date)).Add("n", FactValue::Int(n));
    absl::StatusOr<Decision> d = Evaluate(*policy, facts);
    return d.ok() ? Out(*d, "x") : std::string(d.status().message());
  };
  EXPECT_EQ(run("2026-01-01", 30), "90");
  EXPECT_EQ(run("0001-01-01", 0), "0");
  EXPECT_EQ(run("9999-12-31", 1),
            "evaluation failed in let `later` (test.credit:8): the date falls outside "
            "0001-01-01 to 9999-12-31");
  EXPECT_EQ(run("0001-01-01", 1),
            "evaluation failed in let `earlier` (test.credit:9): the date falls outside "
            "0001-01-01 to 9999-12-31");
  // Near the int64 range these overflowed into negative years (and formatting
  // them overflowed again).
  EXPECT_THAT(run("2026-01-01", INT64_MAX - 1000), HasSubstr("the date falls outside"));
  EXPECT_THAT(run("2026-01-01", INT64_MAX), HasSubstr("the date falls outside"));
  EXPECT_THAT(run("2026-01-01", INT64_MIN), HasSubstr("the date falls outside"));
  EXPECT_THAT(run("2026-01-01", -4000000), HasSubstr("let `later`"));
}

TEST(DatesTest, ConstantDateArithmeticStaysInTheRange) {
  EXPECT_EQ(Arithmetic(dsl::ast::Op::kAdd, Value::Date(kMaxDate), Value::Int(1), TypeKind::kDate)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(
      Arithmetic(dsl::ast::Op::kSub, Value::Date(kMinDate), Value::Int(INT64_MIN), TypeKind::kDate)
          .status()
          .code(),
      absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Arithmetic(dsl::ast::Op::kAdd, Value::Date(0), Value::Int(1), TypeKind::kDate)->i, 1);
}

TEST(DatesTest, TheAnalysisKnowsTheRange) {
  // Every date lies at or after 0001-01-01, so this band has no gap.
  auto policy = CompileText(Header() + R"(
input d: date
band era on d
  | >= 0001-01-01 => 1
output x: int = era
)");
  EXPECT_NE(policy, nullptr);
}

}  // namespace
}  // namespace creditd::engine
