// How facts become input values: which kinds an input takes, how many
// decimal places, and what the caller's text looks like in a problem.
#include <string>
#include <vector>

#include "engine/bundle.h"
#include "engine/evaluator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using ::testing::ElementsAre;
using testing::Header;
using testing::Out;

// The one problem evaluating `fact` as input `name` gives, or "accepted: "
// and the output `x` when there is none.
std::string Try(const CompiledPolicy& policy, const std::string& name, FactValue fact,
                FactRules rules = FactRules::kStrict) {
  Facts facts;
  facts.Add(name, fact);
  EvalOptions options;
  options.facts = rules;
  std::vector<FactProblem> problems;
  absl::StatusOr<Decision> d = Evaluate(policy, facts, options, &problems);
  if (d.ok()) return "accepted: " + Out(*d, "x");
  if (problems.size() != 1) return std::string(d.status().message());
  return problems[0].fact + ": " + problems[0].problem;
}

TEST(FactsTest, AnIntTakesOnlyAnInt) {
  auto policy = CompileText(Header() + "input n: int\noutput x: int = n\n");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Try(*policy, "n", FactValue::Int(6)), "accepted: 6");
  // A decimal, even a whole one, is the wrong type: "6.00" from a caller
  // that formats every number with two places must not pass as 6.
  EXPECT_EQ(Try(*policy, "n", FactValue::Decimal("6.00")), "n: expected int (a whole number)");
  EXPECT_EQ(Try(*policy, "n", FactValue::Decimal("6")), "n: expected int (a whole number)");
  EXPECT_EQ(Try(*policy, "n", FactValue::Decimal("6.5")), "n: expected int (a whole number)");
}

// A range bound past int64 (`> 9223372036854775807`) used to compile to 0,
// so 5 passed; it is checked exactly now.
TEST(FactsTest, AnIntRangeBeyondInt64IsCheckedExactly) {
  auto policy = CompileText(Header() + "input n: int > 9223372036854775807\noutput x: int = n\n");
  ASSERT_NE(policy, nullptr);
  EXPECT_NE(Try(*policy, "n", FactValue::Int(5)).find("n: 5 is outside the declared range"),
            std::string::npos);
  auto below = CompileText(Header() + "input n: int < 9223372036854775807\noutput x: int = n\n");
  ASSERT_NE(below, nullptr);
  EXPECT_EQ(Try(*below, "n", FactValue::Int(5)), "accepted: 5");
}

// Found by policy_eval_fuzzer: a table whose row reads the table itself was
// looked up before it had been checked (a null declaration).
TEST(FactsTest, ATableThatReadsItselfIsRefusedNotCrashed) {
  auto policy = CompileCanonicalSource("=== t.credit\n" + Header() +
                                       "input n: int\ntable t hit first\n  | n   => v: int\n"
                                       "  | any => t.v\noutput x: int = t.v\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.status().message().find("E0211"), std::string::npos) << policy.status();
}

TEST(FactsTest, APercentTakesOnlyAFraction) {
  auto policy = CompileText(Header() + "input r: percent\noutput x: percent = r\n");
  ASSERT_NE(policy, nullptr);
  // An int 1 would mean 100%: a ratio sent as a whole number is refused.
  EXPECT_EQ(Try(*policy, "r", FactValue::Int(1)),
            "r: expected percent (a fraction such as \"0.55\" or \"55%\")");
  EXPECT_EQ(Try(*policy, "r", FactValue::Int(0)),
            "r: expected percent (a fraction such as \"0.55\" or \"55%\")");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("1")), "accepted: 100%");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("0.55")), "accepted: 55%");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("55%")), "accepted: 55%");
}

TEST(FactsTest, AnIntKeepsItsMeaningAsMoneyOrDecimal) {
  auto policy =
      CompileText(Header() + "input m: money\ninput d: decimal\noutput x: money = m * d\n");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("m", FactValue::Int(800000)).Add("d", FactValue::Int(2));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Out(*d, "x"), "1600000");
}

TEST(FactsTest, LenientRulesKeepTheConversionsOfOlderRecords) {
  auto ints = CompileText(Header() + "input n: int\noutput x: int = n\n");
  auto percents = CompileText(Header() + "input r: percent\noutput x: percent = r\n");
  ASSERT_NE(ints, nullptr);
  ASSERT_NE(percents, nullptr);
  EXPECT_EQ(Try(*ints, "n", FactValue::Decimal("6.00"), FactRules::kLenient), "accepted: 6");
  EXPECT_EQ(Try(*ints, "n", FactValue::Decimal("6.5"), FactRules::kLenient),
            "n: `6.5` is not a whole number");
  EXPECT_EQ(Try(*percents, "r", FactValue::Int(1), FactRules::kLenient), "accepted: 100%");
}

TEST(FactsTest, MoneyTakesTwoPlaces) {
  auto policy = CompileText(Header() + "input m: money\noutput x: money = m\n");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal("800000.001")),
            "m: `800000.001` has 3 decimal places; money takes at most 2");
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal("0.5")), "accepted: 0.5");
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal("800000.10")), "accepted: 800000.1");
  // Trailing zeros do not change the value and are not counted.
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal("800000.1000")), "accepted: 800000.1");
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal("7." + std::string(30, '0'))), "accepted: 7");
  // Under the older rules the third place was kept.
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal("800000.001"), FactRules::kLenient),
            "accepted: 800000.001");
}

TEST(FactsTest, APercentTakesFourPlacesAsAFraction) {
  auto policy = CompileText(Header() + "input r: percent\noutput x: percent = r\n");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("0.5512")), "accepted: 55.12%");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("55.12%")), "accepted: 55.12%");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("55.1200%")), "accepted: 55.12%");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("0.55125")),
            "r: `0.55125` has 5 decimal places; percent takes at most 4 (hundredths of a "
            "percent)");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("55.125%")),
            "r: `55.125%` has 5 decimal places as a fraction; percent takes at most 4 "
            "(hundredths of a percent)");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal("55.125%"), FactRules::kLenient),
            "accepted: 55.125%");
  // Beyond 18 places as a fraction the older rules rounded to 18 places, here
  // to exactly 55%; now the value is refused, not rounded.
  const std::string fine = "55.00000000000000001%";
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal(fine), FactRules::kLenient), "accepted: 55%");
  EXPECT_EQ(Try(*policy, "r", FactValue::Decimal(fine)),
            "r: `55.00000000000000001%` has 19 decimal places as a fraction; percent takes at "
            "most 4 (hundredths of a percent)");
}

TEST(FactsTest, ADecimalTakesUpToTheEnginesPlaces) {
  auto policy = CompileText(Header() + "input d: decimal\noutput x: decimal = d\n");
  ASSERT_NE(policy, nullptr);
  const std::string eighteen = "0." + std::string(17, '0') + "1";
  EXPECT_EQ(Try(*policy, "d", FactValue::Decimal(eighteen)), "accepted: " + eighteen);
  const std::string nineteen = "0." + std::string(18, '0') + "1";
  EXPECT_EQ(Try(*policy, "d", FactValue::Decimal(nineteen)),
            "d: `" + nineteen + "` has 19 decimal places; decimal takes at most 18");
  // Hostile text is echoed cut short here too.
  const std::string long_fraction = "1." + std::string(80 * 1024, '3');
  EXPECT_EQ(Try(*policy, "d", FactValue::Decimal(long_fraction)),
            "d: `1." + std::string(30, '3') +
                "\u2026` has 81920 decimal places; decimal takes at most 18");
}

TEST(FactsTest, AMoneyInputDeclaresItsPlaces) {
  auto policy = CompileText(Header() + R"(
input yen: money(0)
input dinar: money(3)
output x: money = yen + dinar
)");
  ASSERT_NE(policy, nullptr);
  auto with = [&](const std::string& yen, const std::string& dinar) {
    Facts facts;
    facts.Add("yen", FactValue::Decimal(yen)).Add("dinar", FactValue::Decimal(dinar));
    std::vector<FactProblem> problems;
    absl::StatusOr<Decision> d = Evaluate(*policy, facts, {}, &problems);
    if (d.ok()) return "accepted: " + Out(*d, "x");
    std::string out;
    for (const FactProblem& p : problems) out += p.fact + ": " + p.problem + "; ";
    return out;
  };
  EXPECT_EQ(with("1500", "1.234"), "accepted: 1501.234");
  // "6.00" means 6: trailing zeros are not places.
  EXPECT_EQ(with("6.00", "1.2340"), "accepted: 7.234");
  EXPECT_EQ(with("6.5", "1.2345"),
            "dinar: `1.2345` has 4 decimal places; money(3) takes at most 3; "
            "yen: `6.5` has 1 decimal place; money(0) takes whole amounts only; ");
  Facts facts;
  facts.Add("yen", FactValue::Bool(true));
  EXPECT_EQ(Evaluate(*policy, facts).status().message(),
            "2 problems with the facts: `dinar`: missing (money(3)); `yen`: expected money(0) "
            "(an amount such as \"1250000\")");
  facts.Clear();
  facts.Add("dinar", FactValue::Decimal("lots"));
  EXPECT_EQ(Evaluate(*policy, facts).status().message(),
            "2 problems with the facts: `dinar`: `lots` is not an amount such as "
            "\"1250000.000\"; `yen`: missing (money(0))");
}

// A decision made under the strict rules replays under the lenient ones
// (records logged before kStrictFactsFormat are replayed that way) to the
// same answer: both keep a fact's value without its trailing zeros.
TEST(FactsTest, LenientRulesGiveTheSameAnswerForStrictFacts) {
  auto policy = CompileText(Header() + "input m: money\noutput x: money = m + m\n");
  ASSERT_NE(policy, nullptr);
  // 36 digits as written; 33 once the zeros go, so m + m fits.
  const std::string big = std::string(33, '9') + ".000";
  const std::string strict = Try(*policy, "m", FactValue::Decimal(big));
  EXPECT_EQ(strict, "accepted: 1" + std::string(32, '9') + "8");
  EXPECT_EQ(Try(*policy, "m", FactValue::Decimal(big), FactRules::kLenient), strict);
}

TEST(FactsTest, ProblemsEchoOnlyAShortPrefixOfTheCallersText) {
  auto policy = CompileText(Header() + "input m: money\noutput x: money = m\n");
  ASSERT_NE(policy, nullptr);
  const std::string huge = std::string(80 * 1024, '7') + "x";
  const std::string name(80 * 1024, 'n');
  Facts facts;
  facts.Add("m", FactValue::Decimal(huge)).Add(name, FactValue::Int(1));
  std::vector<FactProblem> problems;
  absl::StatusOr<Decision> d = Evaluate(*policy, facts, {}, &problems);
  ASSERT_FALSE(d.ok());
  EXPECT_LT(d.status().message().size(), 300u) << d.status().message();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].fact, "m");
  EXPECT_EQ(problems[0].problem,
            "`" + std::string(32, '7') + "\u2026` is not an amount such as \"1250000.00\"");
  EXPECT_EQ(problems[1].fact, std::string(32, 'n') + "\u2026");
  EXPECT_EQ(problems[1].problem, "not an input of `t`");
}

// Problems come as data beside the status, which still lists them in its
// message; the vector is emptied by every evaluation that has none.
TEST(FactsTest, ProblemsComeAsDataBesideTheStatus) {
  auto policy = CompileText(Header() + "input n: decimal in [0, 10]\ninput d: decimal\n" +
                            "output x: decimal = n / d\n");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("n", FactValue::Int(11)).Add("colour", FactValue::Symbol("red"));
  std::vector<FactProblem> problems;
  Decision decision;
  absl::Status status = EvaluateInto(*policy, facts, {}, &decision, &problems);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(problems.size(), 3u);
  std::string listed;
  for (const FactProblem& p : problems) {
    listed += (listed.empty() ? "" : "; ") + ("`" + p.fact + "`: " + p.problem);
  }
  EXPECT_EQ(status.message(), "3 problems with the facts: " + listed);
  EXPECT_EQ(problems[0].fact, "colour");
  EXPECT_EQ(problems[1].fact, "d");
  EXPECT_EQ(problems[1].problem, "missing (decimal)");
  EXPECT_EQ(problems[2].fact, "n");

  // A failed evaluation is not a problem with the facts.
  facts.Clear();
  facts.Add("n", FactValue::Int(1)).Add("d", FactValue::Decimal("0"));
  status = EvaluateInto(*policy, facts, {}, &decision, &problems);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(problems.empty());
  problems.push_back({"stale", "left from before"});
  facts.Clear();
  facts.Add("n", FactValue::Int(6)).Add("d", FactValue::Decimal("3"));
  ASSERT_TRUE(EvaluateInto(*policy, facts, {}, &decision, &problems).ok());
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(Out(decision, "x"), "2");
}

TEST(FactsTest, EchoesEscapeControlCharactersAndKeepWholeCharacters) {
  EXPECT_EQ(EchoText("short"), "short");
  EXPECT_EQ(EchoText(std::string(32, 'a')), std::string(32, 'a'));
  // A line break or a tab would split the problem list apart.
  EXPECT_EQ(EchoText("a\tb\nc"), "a\\x09b\\x0ac");
  // "\xc3\xa9" (e acute) straddles byte 32: it is left out whole.
  EXPECT_EQ(EchoText(std::string(31, 'a') + "\xc3\xa9" + "tail"), std::string(31, 'a') + "\u2026");

  auto policy = CompileText(Header() + "input m: money\noutput x: money = m\n");
  ASSERT_NE(policy, nullptr);
  Facts facts;
  facts.Add("m\tx\ny", FactValue::Int(1)).Add("m", FactValue::Decimal("1\n2"));
  std::vector<FactProblem> problems;
  absl::StatusOr<Decision> d = Evaluate(*policy, facts, {}, &problems);
  EXPECT_FALSE(d.ok());
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].fact, "m");
  EXPECT_EQ(problems[0].problem, "`1\\x0a2` is not an amount such as \"1250000.00\"");
  EXPECT_EQ(problems[1].fact, "m\\x09x\\x0ay");
}

}  // namespace
}  // namespace creditd::engine
