// Language editions: edition 1 text keeps its meaning; edition 2 rounds
// percents in percent points, reads ratios as percents explicitly, takes
// optional inputs and the evaluation date, and fills reason messages in.
#include <memory>
#include <string>

#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "engine/value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using testing::Out;

std::string Header(int edition) {
  std::string header = "policy t\n  version 1.0.0\n  effective 2026-01-01\n";
  if (edition > 1) header += "  edition " + std::to_string(edition) + "\n";
  return header + "\n";
}

// `round(percent, 2)` on the same text: edition 1 rounds the fraction,
// edition 2 percent points.
TEST(EditionsTest, RoundingAPercentKeepsEachEditionsMeaning) {
  const std::string body =
      "input exposure: money >= 0\n"
      "input limit: money > 0\n"
      "input share: percent\n"
      "output rounded: percent = round(share, 2)\n";
  auto one = CompileText(Header(1) + body);
  auto two = CompileText(Header(2) + body);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(one->edition(), 1);
  EXPECT_EQ(two->edition(), 2);
  Facts facts;
  facts.Add("exposure", FactValue::Decimal("551.23"))
      .Add("limit", FactValue::Int(1000))
      .Add("share", FactValue::Decimal("0.5512"));
  absl::StatusOr<Decision> d1 = Evaluate(*one, facts);
  absl::StatusOr<Decision> d2 = Evaluate(*two, facts);
  ASSERT_TRUE(d1.ok()) << d1.status();
  ASSERT_TRUE(d2.ok()) << d2.status();
  EXPECT_EQ(Out(*d1, "rounded"), "55%");     // 0.5512 to 2 places of the fraction: 0.55
  EXPECT_EQ(Out(*d2, "rounded"), "55.12%");  // to 2 places of the percent
}

TEST(EditionsTest, PercentReadsARatioAsAPercent) {
  auto policy = CompileText(Header(2) +
                            "input exposure: money >= 0\n"
                            "input limit: money > 0\n"
                            "output used: percent = round(percent(exposure / limit), 2)\n"
                            "output over: bool = percent(exposure / limit) > 105%\n");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("exposure", FactValue::Decimal("1055.01")).Add("limit", FactValue::Int(1000));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "used"), "105.5%");
  EXPECT_EQ(Out(*d, "over"), "true");
}

TEST(EditionsTest, AnOptionalInputIsReadOnlyWhereGiven) {
  auto policy =
      CompileText(Header(2) +
                  "enum Decision { approve, refer }\n"
                  "reason MANUAL \"manual limit below the table's\"\n"
                  "input manual_limit: money? >= 0\n"
                  "input table_limit: money >= 0\n"
                  "outcome Decision = approve\n"
                  "let limit = if given(manual_limit) then manual_limit else table_limit\n"
                  "output credit_limit: money = limit\n"
                  "output had_manual: bool = given(manual_limit)\n"
                  "rule manual\n"
                  "  when given(manual_limit) and manual_limit < table_limit\n"
                  "  then refer MANUAL\n");
  ASSERT_NE(policy, nullptr);
  Facts without;
  without.Add("table_limit", FactValue::Int(20000));
  absl::StatusOr<Decision> d = Evaluate(*policy, without);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "credit_limit"), "20000");
  EXPECT_EQ(Out(*d, "had_manual"), "false");
  EXPECT_EQ(d->outcome, "approve");

  Facts with;
  with.Add("table_limit", FactValue::Int(20000)).Add("manual_limit", FactValue::Int(15000));
  d = Evaluate(*policy, with);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "credit_limit"), "15000");
  EXPECT_EQ(Out(*d, "had_manual"), "true");
  EXPECT_EQ(d->outcome, "refer");

  // A given fact is checked as any other: its range, its places.
  Facts bad;
  bad.Add("table_limit", FactValue::Int(20000)).Add("manual_limit", FactValue::Decimal("-1"));
  std::vector<FactProblem> problems;
  d = Evaluate(*policy, bad, {}, &problems);
  ASSERT_FALSE(d.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].fact, "manual_limit");

  // Evaluating without, after with, on one thread: nothing of the earlier
  // fact is left over.
  d = Evaluate(*policy, with);
  ASSERT_TRUE(d.ok());
  d = Evaluate(*policy, without);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Out(*d, "credit_limit"), "20000");
}

TEST(EditionsTest, TodayIsTheEvaluationDateTheCallerGives) {
  auto policy = CompileText(Header(2) +
                            "input last_step: date\n"
                            "output days_since: int = today - last_step\n");
  ASSERT_NE(policy, nullptr);
  EXPECT_TRUE(policy->reads_today());
  Facts facts;
  facts.Add("last_step", FactValue::Date("2026-11-01"));
  // No date: the policy cannot be evaluated, rather than on some clock's day.
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EvalOptions options;
  options.evaluation_date = *ParseDate("2026-11-30");
  d = Evaluate(*policy, facts, options);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "days_since"), "29");
  ASSERT_TRUE(d->evaluation_date.has_value());
  EXPECT_EQ(FormatDate(*d->evaluation_date), "2026-11-30");

  // A policy that does not read it names no date.
  auto plain = CompileText(Header(2) + "input a: int\noutput b: int = a\n");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->reads_today());
  Facts a;
  a.Add("a", FactValue::Int(1));
  d = Evaluate(*plain, a, options);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->evaluation_date.has_value());
}

// In edition 1 `today` is a name like any other: an input may take it.
TEST(EditionsTest, TodayIsAnOrdinaryNameInEditionOne) {
  auto policy = CompileText(Header(1) +
                            "input today: date\n"
                            "input last_step: date\n"
                            "output days_since: int = today - last_step\n");
  ASSERT_NE(policy, nullptr);
  EXPECT_FALSE(policy->reads_today());
  Facts facts;
  facts.Add("today", FactValue::Date("2026-11-30")).Add("last_step", FactValue::Date("2026-11-01"));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "days_since"), "29");
}

TEST(EditionsTest, ReasonMessagesQuoteTheDecisionsValues) {
  const std::string body =
      "enum Decision { approve, refer }\n"
      "reason OVER \"Exposure {exposure} is above the limit {limit} ({used} used, {{sic}})\"\n"
      "input exposure: money >= 0\n"
      "input limit: money > 0\n"
      "outcome Decision = approve\n"
      "let used = round(percent(exposure / limit), 2)\n"
      "rule over\n"
      "  when used > 100%\n"
      "  then refer OVER\n";
  auto policy = CompileText(Header(2) + body);
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("exposure", FactValue::Decimal("1551.2")).Add("limit", FactValue::Int(1000));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->reasons.size(), 1u);
  EXPECT_EQ(d->reasons[0].Message(),
            "Exposure 1551.20 is above the limit 1000.00 (155.12% used, {sic})");
  // The declared text stays as it was written, for DescribeDecision.
  EXPECT_EQ(d->reasons[0].message,
            "Exposure {exposure} is above the limit {limit} ({used} used, {{sic}})");
  // A copy keeps its own message.
  const Reason copy = d->reasons[0];
  facts.Clear();
  facts.Add("exposure", FactValue::Int(3000)).Add("limit", FactValue::Int(1000));
  ASSERT_TRUE(EvaluateInto(*policy, facts, {}, &*d).ok());
  EXPECT_EQ(d->reasons[0].Message(),
            "Exposure 3000.00 is above the limit 1000.00 (300% used, {sic})");
  EXPECT_EQ(copy.Message(), "Exposure 1551.20 is above the limit 1000.00 (155.12% used, {sic})");

  // Edition 1: braces are text.
  const std::string one_body =
      "enum Decision { approve, refer }\n"
      "reason OVER \"Exposure {exposure} is high\"\n"
      "input exposure: money >= 0\n"
      "outcome Decision = approve\n"
      "rule over\n"
      "  when exposure > 100\n"
      "  then refer OVER\n";
  auto one = CompileText(Header(1) + one_body);
  ASSERT_NE(one, nullptr);
  Facts e;
  e.Add("exposure", FactValue::Int(200));
  d = Evaluate(*one, e);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->reasons.size(), 1u);
  EXPECT_EQ(d->reasons[0].Message(), "Exposure {exposure} is high");
}

TEST(EditionsTest, MoneyOutputsHoldTheirPlaces) {
  auto policy = CompileText(Header(2) +
                            "input exposure: money >= 0\n"
                            "output fee: money = round(exposure * 1.5%, 2)\n"
                            "output yen: money(0) = round(exposure, 0, half_up)\n");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("exposure", FactValue::Decimal("1551.25"));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "fee"), "23.27");
  EXPECT_EQ(Out(*d, "yen"), "1551");
  // Shown with exactly their places: a yen amount has none.
  JsonOptions compact;
  compact.pretty = false;
  EXPECT_THAT(DecisionToJson(*d, compact), ::testing::HasSubstr(R"("fee":"23.27","yen":"1551")"));
}

}  // namespace
}  // namespace creditd::engine
