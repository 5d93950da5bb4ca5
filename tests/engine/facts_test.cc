// How facts become input values: which kinds an input takes, how many
// decimal places, and what the caller's text looks like in a problem.
#include <string>
#include <vector>

#include "engine/evaluator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using testing::Header;

TEST(FactsTest, ProblemsEchoOnlyAShortPrefixOfTheCallersText) {
  auto policy = CompileText(Header() + "input m: money\noutput x: money = m\n");
  ASSERT_NE(policy, nullptr);
  const std::string huge = std::string(80 * 1024, '7') + "x";
  const std::string name(80 * 1024, 'n');
  Facts facts;
  facts.Add("m", FactValue::Decimal(huge)).Add(name, FactValue::Int(1));
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  ASSERT_FALSE(d.ok());
  EXPECT_LT(d.status().message().size(), 300u) << d.status().message();
  std::vector<FactProblem> problems = FactProblems(d.status());
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].fact, "m");
  EXPECT_EQ(problems[0].problem,
            "`" + std::string(32, '7') + "\u2026` is not an amount such as \"1250000.00\"");
  EXPECT_EQ(problems[1].fact, std::string(32, 'n') + "\u2026");
  EXPECT_EQ(problems[1].problem, "not an input of `t`");
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
  absl::StatusOr<Decision> d = Evaluate(*policy, facts);
  std::vector<FactProblem> problems = FactProblems(d.status());
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].fact, "m");
  EXPECT_EQ(problems[0].problem, "`1\\x0a2` is not an amount such as \"1250000.00\"");
  EXPECT_EQ(problems[1].fact, "m\\x09x\\x0ay");
}

}  // namespace
}  // namespace creditd::engine
