#include "engine/evaluator.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/decision_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Header;
using testing::Out;

Decision Eval(const CompiledPolicy& policy, const Facts& facts, bool trace = false) {
  EvalOptions options;
  options.trace = trace;
  absl::StatusOr<Decision> d = Evaluate(policy, facts, options);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : Decision();
}

std::vector<std::string> Codes(const Decision& d) {
  std::vector<std::string> codes;
  for (const Reason& r : d.reasons) codes.emplace_back(r.code);
  return codes;
}

TEST(EvaluatorTest, ArithmeticIsExactAndTyped) {
  auto policy = CompileText(Header() + R"(
input amount: money
input rate: percent
input days: int
input ratio: decimal
output interest: money = round(amount * rate * days, 2)
output half: money = amount / 2
output share: decimal = amount / (amount + 1)
output neg: money = -amount + 0.01
output mixed: decimal = ratio * 3 + days
output third: decimal = 1 / 3
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("amount", FactValue::Decimal("1234567.89"))
      .Add("rate", FactValue::Decimal("0.05%"))
      .Add("days", FactValue::Int(45))
      .Add("ratio", FactValue::Decimal("0.1"));
  Decision d = Eval(*policy, facts);
  // 1234567.89 * 0.0005 * 45 = 27777.777525 -> 27777.78
  EXPECT_EQ(Out(d, "interest"), "27777.78");
  EXPECT_EQ(Out(d, "half"), "617283.945");
  EXPECT_EQ(Out(d, "neg"), "-1234567.88");
  EXPECT_EQ(Out(d, "mixed"), "45.3");
  EXPECT_EQ(Out(d, "third"), "0.333333333333333333");
}

// Money is compared at its two places; a constant with too many digits to
// pad to them is compared as it is, and exactly, in a condition and in a
// band's bounds alike.
TEST(EvaluatorTest, ConstantsTooLongToPadCompareExactly) {
  auto policy = CompileText(Header() + R"(
input amount: money
output below: bool = amount < 99999999999999999999999999999999999.5
output above: bool = amount > 99999999999999999999999999999999999.5
enum Size { any_size, beyond }
band size: Size on amount
  | < 99999999999999999999999999999999999.5  => any_size
  | >= 99999999999999999999999999999999999.5 => beyond
output banded: Size = size
)");
  ASSERT_NE(policy, nullptr);
  for (const char* amount : {"0.00", "-5.00", "1000000000000000000000000000000000.00"}) {
    Facts facts;
    facts.Add("amount", FactValue::Decimal(amount));
    Decision d = Eval(*policy, facts);
    EXPECT_EQ(Out(d, "below"), "true") << amount;
    EXPECT_EQ(Out(d, "above"), "false") << amount;
    EXPECT_EQ(Out(d, "banded"), "any_size") << amount;
  }
}

TEST(EvaluatorTest, RoundingModesAndFunctions) {
  auto policy = CompileText(Header() + R"(
input x: decimal
output even: decimal = round(x, 1)
output up: decimal = round(x, 1, half_up)
output down: decimal = round(x, 1, down)
output floor: decimal = round(x, 0, floor)
output ceiling: decimal = round(x, 0, ceiling)
output smallest: decimal = min(x, 1, -3)
output largest: decimal = max(x, 1)
output magnitude: decimal = abs(x)
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("x", FactValue::Decimal("-2.25"));
  Decision d = Eval(*policy, facts);
  EXPECT_EQ(Out(d, "even"), "-2.2");
  EXPECT_EQ(Out(d, "up"), "-2.3");
  EXPECT_EQ(Out(d, "down"), "-2.2");
  EXPECT_EQ(Out(d, "floor"), "-3");
  EXPECT_EQ(Out(d, "ceiling"), "-2");
  EXPECT_EQ(Out(d, "smallest"), "-3");
  EXPECT_EQ(Out(d, "largest"), "1");
  EXPECT_EQ(Out(d, "magnitude"), "2.25");
}

TEST(EvaluatorTest, ConditionsRangesSetsAndIf) {
  auto policy = CompileText(Header() + R"(
enum Grade { A, B, C, D }
input grade: Grade
input days: int in [-365, 3650]
input ratio: percent
input flag: bool
output good: bool = grade in {A, B}
output not_good: bool = grade not in {A, B}
output ordered: bool = grade < C
output notice: bool = days in [1, 29]
output open_range: bool = ratio in (60%, 70%]
output label: Grade = if flag and days > 0 then D else if ratio >= 50% then C else A
output short: bool = flag or days / 0 > 1
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("grade", FactValue::Symbol("B"))
      .Add("days", FactValue::Int(29))
      .Add("ratio", FactValue::Decimal("0.6"))
      .Add("flag", FactValue::Bool(true));
  Decision d = Eval(*policy, facts);
  EXPECT_EQ(Out(d, "good"), "true");
  EXPECT_EQ(Out(d, "not_good"), "false");
  EXPECT_EQ(Out(d, "ordered"), "true");
  EXPECT_EQ(Out(d, "notice"), "true");
  EXPECT_EQ(Out(d, "open_range"), "false");  // 60% is outside (60%, 70%]
  EXPECT_EQ(Out(d, "label"), "D");
  // `or` short-circuits: the division by zero is never evaluated.
  EXPECT_EQ(Out(d, "short"), "true");
}

TEST(EvaluatorTest, BandsUseTheirRanges) {
  auto policy = CompileText(Header() + R"(
enum Grade { A, B, C, D }
input score: decimal in [0, 100]
band grade: Grade on score
  | >= 80    => A
  | [65, 80) => B
  | [50, 65) => C
  | < 50     => D
output g: Grade = grade
)");
  ASSERT_NE(policy, nullptr);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"100", "A"},    {"80", "A"}, {"79.99", "B"}, {"65", "B"},
      {"64.999", "C"}, {"50", "C"}, {"49.99", "D"}, {"0", "D"}};
  for (const auto& [score, grade] : cases) {
    Facts facts;
    facts.Add("score", FactValue::Decimal(score));
    EXPECT_EQ(Out(Eval(*policy, facts), "g"), grade) << score;
  }
}

TEST(EvaluatorTest, TableHitPolicies) {
  auto policy = CompileText(Header() + R"(
enum Grade { A, B, C, D }
enum Segment { new, existing, strategic }
enum Action { call, mail, visit }
input grade: Grade
input segment: Segment
input amount: money >= 0
table terms hit first
  | grade  | segment   => limit: money, days: int
  | A      | strategic => 5_000_000,    90
  | {A, B} | any       => 1_000_000,    60
  | any    | any       => 0,            0
table pick hit priority
  | amount        => level: int
  | >= 0          => 1
  | >= 1_000      => 3
  | >= 1_000_000  => 2
table actions hit collect
  | grade  | amount   => action: Action
  | {C, D} | any      => call
  | D      | any      => visit
  | any    | >= 1_000 => mail
table fees hit collect sum
  | segment | amount   => fee: money
  | new     | any      => 10
  | any     | >= 1_000 => 2.5
table cheapest hit collect min
  | amount   => price: money
  | any      => 100
  | >= 1_000 => 80
output limit: money = terms.limit
output days: int = terms.days
output level: int = pick.level
output actions: set of Action = actions.action
output fee: money = fees.fee
output price: money = cheapest.price
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("grade", FactValue::Symbol("D"))
      .Add("segment", FactValue::Symbol("new"))
      .Add("amount", FactValue::Decimal("2500000"));
  Decision d = Eval(*policy, facts);
  EXPECT_EQ(Out(d, "limit"), "0");
  EXPECT_EQ(Out(d, "days"), "0");
  EXPECT_EQ(Out(d, "level"), "3");  // the highest first result among matching rows
  EXPECT_EQ(Out(d, "actions"), "{call, mail, visit}");
  EXPECT_EQ(Out(d, "fee"), "12.5");
  EXPECT_EQ(Out(d, "price"), "80");

  Facts strategic;
  strategic.Add("grade", FactValue::Symbol("A"))
      .Add("segment", FactValue::Symbol("strategic"))
      .Add("amount", FactValue::Decimal("10"));
  Decision s = Eval(*policy, strategic);
  EXPECT_EQ(Out(s, "limit"), "5000000");
  EXPECT_EQ(Out(s, "days"), "90");
  EXPECT_EQ(Out(s, "level"), "1");
  EXPECT_EQ(Out(s, "actions"), "{}");
  EXPECT_EQ(Out(s, "fee"), "0");
  EXPECT_EQ(Out(s, "price"), "100");
}

TEST(EvaluatorTest, RulesCombineIndependentlyOfOrder) {
  const std::vector<std::string> rules = {
      "rule big\n  when amount > 1_000\n  then refer BIG\n       cap limit at 500\n",
      "rule huge\n  when amount > 10_000\n  then decline HUGE\n       cap limit at 0\n"
      "       raise level to high\n",
      "rule watch\n  when amount > 100\n  then reason WATCH\n       add watch to flags\n"
      "       raise level to medium\n",
      "rule note\n  when amount > 50\n  then add note to flags\n",
  };
  const std::string head = Header() + R"(
enum Decision { approve, refer, decline }
enum Level { low, medium, high }
enum Flag { watch, note }
reason BIG "big"
reason HUGE "huge"
reason WATCH "watch"
input amount: money
outcome Decision = approve
output limit: money = 1_000
output level: Level = low
output flags: set of Flag = {}
)";
  std::vector<std::string> order = rules;
  std::string expected_json;
  std::mt19937 rng(42);
  for (int round = 0; round < 6; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    std::string text = head;
    for (const std::string& r : order) text += "\n" + r;
    auto policy = CompileText(text);
    ASSERT_NE(policy, nullptr);
    Facts facts;
    facts.Add("amount", FactValue::Decimal("20000"));
    Decision d = Eval(*policy, facts);
    EXPECT_EQ(d.outcome, "decline");
    EXPECT_EQ(Out(d, "limit"), "0");
    EXPECT_EQ(Out(d, "level"), "high");
    EXPECT_EQ(Out(d, "flags"), "{watch, note}");
    // Reasons: by severity; rules without an outcome last.
    std::vector<std::string> codes = Codes(d);
    ASSERT_EQ(codes.size(), 3u);
    EXPECT_EQ(codes[0], "HUGE");
    EXPECT_EQ(codes[1], "BIG");
    EXPECT_EQ(codes[2], "WATCH");
    JsonOptions json;
    std::string out = DecisionToJson(d, json);
    // Strip locations (line numbers move with the order).
    std::string stable;
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (line.find("\"location\"") == std::string::npos &&
          line.find("sha256") == std::string::npos) {
        absl::StrAppend(&stable, line, "\n");
      }
    }
    if (round == 0) {
      expected_json = stable;
    } else {
      EXPECT_EQ(stable, expected_json);
    }
  }
}

TEST(EvaluatorTest, SetResolvesByPriorityOrByValue) {
  auto policy = CompileText(Header() + R"(
enum Segment { new, existing, strategic, restricted }
input segment: Segment
input limit: money
input warnings: int
input rate: percent
output segment_out: Segment = segment
output new_limit: money = limit priority lowest
output change: money = new_limit - limit
rule downgrade priority 2
  when warnings >= 2
  then set segment_out = restricted
       set new_limit = round(limit * 50%, 0)
rule upgrade priority 1
  when segment = existing
  then set segment_out = strategic
rule good
  when rate >= 95%
  then set new_limit = round(limit * 120%, 0)
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("segment", FactValue::Symbol("existing"))
      .Add("limit", FactValue::Decimal("1000001"))
      .Add("warnings", FactValue::Int(2))
      .Add("rate", FactValue::Decimal("0.99"));
  Decision d = Eval(*policy, facts);
  EXPECT_EQ(Out(d, "segment_out"), "restricted");  // priority 2 beats 1
  EXPECT_EQ(Out(d, "new_limit"), "500000");        // half to even: 500000.5 -> 500000
  EXPECT_EQ(Out(d, "change"), "-500001");
  Facts calm;
  calm.Add("segment", FactValue::Symbol("new"))
      .Add("limit", FactValue::Decimal("1000"))
      .Add("warnings", FactValue::Int(0))
      .Add("rate", FactValue::Decimal("0.5"));
  Decision c = Eval(*policy, calm);
  EXPECT_EQ(Out(c, "segment_out"), "new");
  EXPECT_EQ(Out(c, "new_limit"), "1000");
  EXPECT_EQ(Out(c, "change"), "0");
}

TEST(EvaluatorTest, ScorecardTotalsAndTopReasons) {
  auto policy = CompileText(Header() + R"(
reason R1 "r1"
reason R2 "r2"
reason R3 "r3"
input a: int in [0, 10]
input b: int in [0, 10]
input c: bool
scorecard s
  group g1 weight 60%
    factor a reason R1
      | < 5  => 0
      | >= 5 => 50
    factor b reason R2
      | < 5  => 25
      | >= 5 => 50
  group g2 weight 40%
    factor c reason R3
      | true  => 100
      | false => 40
output total: decimal = s.total
output g1: decimal = s.g1
output a_points: decimal = s.a
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("a", FactValue::Int(3)).Add("b", FactValue::Int(2)).Add("c", FactValue::Bool(false));
  Decision d = Eval(*policy, facts);
  EXPECT_EQ(Out(d, "total"), "31");  // 0.6 * 25 + 0.4 * 40
  EXPECT_EQ(Out(d, "g1"), "25");
  EXPECT_EQ(Out(d, "a_points"), "0");
  ASSERT_EQ(d.scorecards.size(), 1u);
  const ScorecardResult& s = d.scorecards[0];
  ASSERT_EQ(s.top_reasons.size(), 3u);
  // Weighted points lost: a 30, c 24, b 15.
  EXPECT_EQ(s.factors[static_cast<size_t>(s.top_reasons[0])].reason, "R1");
  EXPECT_EQ(s.factors[static_cast<size_t>(s.top_reasons[1])].reason, "R3");
  EXPECT_EQ(s.factors[static_cast<size_t>(s.top_reasons[2])].reason, "R2");
  EXPECT_EQ(s.factors[0].weighted_lost.ToCanonicalString(), "30");
}

TEST(EvaluatorTest, EveryFactProblemIsReportedAtOnce) {
  auto policy = CompileText(Header() + R"(
enum Grade { A, B }
input grade: Grade
input limit: money >= 0
input years: int in [0, 200]
input since: date
input flag: bool
input optional: bool = false
output x: money = limit
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("grade", FactValue::Symbol("E"))
      .Add("limit", FactValue::Decimal("12a"))
      .Add("years", FactValue::Int(201))
      .Add("since", FactValue::Date("2026-02-30"))
      .Add("colour", FactValue::Symbol("red"));
  std::vector<FactProblem> problems;
  absl::StatusOr<Decision> d = Evaluate(*policy, facts, {}, &problems);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> names;
  for (const FactProblem& p : problems) names.push_back(p.fact);
  EXPECT_THAT(names, ElementsAre("colour", "flag", "grade", "limit", "since", "years"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("6 problems"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("`12a` is not"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("outside the declared range [0, 200]"));
}

TEST(EvaluatorTest, DefaultsFillMissingFacts) {
  auto policy = CompileText(Header() + R"(
input a: bool = true
input b: money = 1_000
output both: money = if a then b else 0
)");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Out(Eval(*policy, Facts()), "both"), "1000");
}

TEST(EvaluatorTest, ArithmeticFailuresNameTheirPlace) {
  auto policy = CompileText(Header() + R"(
input a: money
input b: money
let ratio = a / b
output r: decimal = ratio
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("a", FactValue::Decimal("1")).Add("b", FactValue::Decimal("0"));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("let `ratio`"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("division by zero"));

  Facts big;
  big.Add("a", FactValue::Decimal("999999999999999999999999999999999999"))
      .Add("b", FactValue::Decimal("0.1"));
  d = Evaluate(*policy, big);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("overflow"));
}

TEST(EvaluatorTest, TraceRecordsEveryStep) {
  auto policy = CompileText(Header() + R"(
enum Decision { approve, refer }
reason BIG "big"
input amount: money
input years: int in [0, 100]
let doubled = amount * 2
band tier on years
  | < 5  => 1
  | >= 5 => 2
outcome Decision = approve
output t: int = tier
rule big
  when doubled > 100 and years < 10
  then refer BIG
rule never
  when years > 50
  then reason BIG
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("amount", FactValue::Decimal("60")).Add("years", FactValue::Int(7));
  Decision d = Eval(*policy, facts, /*trace=*/true);
  std::vector<std::string> steps;
  for (const TraceStep& s : d.trace) steps.push_back(absl::StrCat(s.name, "=", s.value));
  EXPECT_THAT(steps, ElementsAre("doubled=120", "tier=2", "big=fired", "never=not fired", "t=2"));
  const TraceStep& big = d.trace[2];
  EXPECT_TRUE(big.fired);
  EXPECT_THAT(big.reads, ElementsAre(std::make_pair(std::string("doubled"), std::string("120")),
                                     std::make_pair(std::string("years"), std::string("7"))));
  EXPECT_EQ(d.trace[1].detail, "row 2");
  // Without trace, nothing is recorded.
  EXPECT_TRUE(Eval(*policy, facts).trace.empty());
}

TEST(EvaluatorTest, SameFactsSameBytes) {
  auto policy = CompileText(Header() + R"(
input a: money
input r: percent
output x: money = round(a * r, 2)
)");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("a", FactValue::Decimal("1000.10")).Add("r", FactValue::Decimal("55%"));
  const std::string first = DecisionToJson(Eval(*policy, facts));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(DecisionToJson(Eval(*policy, facts)), first);
  EXPECT_THAT(first, HasSubstr("\"x\": \"550.06\""));
}

TEST(EvaluatorTest, PolicyIdHashesCanonicalSource) {
  const std::string text = Header() + "input a: money\noutput x: money = a\n";
  auto one = CompileText(text);
  auto reformatted = CompileText(Header() + "input   a :money\n\n\noutput x:money=a\n");
  auto changed = CompileText(Header() + "input a: money\noutput x: money = a + 1\n");
  ASSERT_NE(one, nullptr);
  ASSERT_NE(reformatted, nullptr);
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(one->id().sha256.size(), 64u);
  EXPECT_EQ(one->id().sha256, reformatted->id().sha256);
  EXPECT_NE(one->id().sha256, changed->id().sha256);
  EXPECT_EQ(one->id().version, "1.0.0");
}

TEST(EvaluatorTest, ReusedDecisionKeepsNoStaleState) {
  auto policy = CompileText(Header() + R"(
enum Decision { approve, refer }
reason R "r"
input a: int
outcome Decision = approve
output x: int = a
rule r
  when a > 5
  then refer R
)");
  ASSERT_NE(policy, nullptr);
  Decision d;
  Facts high;
  high.Add("a", FactValue::Int(9));
  ASSERT_TRUE(EvaluateInto(*policy, high, {}, &d).ok());
  EXPECT_EQ(d.reasons.size(), 1u);
  Facts low;
  low.Add("a", FactValue::Int(1));
  ASSERT_TRUE(EvaluateInto(*policy, low, {}, &d).ok());
  EXPECT_TRUE(d.reasons.empty());
  EXPECT_EQ(d.outcome, "approve");
  EXPECT_EQ(Out(d, "x"), "1");
}

}  // namespace
}  // namespace creditd::engine
