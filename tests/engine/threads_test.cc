// One compiled policy evaluated from many threads at once gives exactly the
// answers one thread gives. Run under ThreadSanitizer by the `tsan` preset.
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

// Owns the text the facts point into.
struct Case {
  std::vector<std::string> texts;
  Facts facts;
};

std::vector<std::unique_ptr<Case>> RandomCases(int n) {
  std::mt19937 rng(7);
  auto pick = [&](std::vector<std::string> options) {
    return options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(rng)];
  };
  auto number = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<std::unique_ptr<Case>> cases;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<Case>();
    c->texts = {pick({"new", "existing", "strategic"}),
                absl::StrCat(number(0, 3000000), ".", number(0, 99)),
                absl::StrCat("0.", number(0, 99)),
                absl::StrCat(number(0, 3), ".", number(0, 9)),
                absl::StrCat(number(-30, 30), "%"),
                pick({"low", "medium", "high"}),
                absl::StrCat("0.", number(0, 9))};
    c->facts.Add("segment", FactValue::Symbol(c->texts[0]))
        .Add("requested_limit", FactValue::Decimal(c->texts[1]))
        .Add("debt_ratio", FactValue::Decimal(c->texts[2]))
        .Add("current_ratio", FactValue::Decimal(c->texts[3]))
        .Add("net_margin", FactValue::Decimal(c->texts[4]))
        .Add("years_in_business", FactValue::Int(number(0, 30)))
        .Add("cooperation_years", FactValue::Int(number(0, 5)))
        .Add("industry_risk", FactValue::Symbol(c->texts[5]))
        .Add("overdue_count_12m", FactValue::Int(number(0, 4)))
        .Add("max_days_overdue_12m", FactValue::Int(number(0, 60)))
        .Add("bad_debt_count", FactValue::Int(number(0, 1)))
        .Add("major_litigation", FactValue::Bool(number(0, 9) == 0))
        .Add("equity_pledge_ratio", FactValue::Decimal(c->texts[6]))
        .Add("has_collateral", FactValue::Bool(number(0, 1) == 1));
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(ThreadsTest, ManyThreadsOneCompiledPolicy) {
  DiskFileReader reader;
  dsl::DiagnosticSink sink;
  auto checked = LoadAndCheck("policies/credit_application.credit", reader, sink);
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_FALSE(sink.has_errors());
  auto compiled = Compile(*std::move(checked));
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  std::shared_ptr<const CompiledPolicy> policy = *compiled;

  const auto cases = RandomCases(300);
  std::vector<std::string> expected;
  EvalOptions traced;
  traced.trace = true;
  for (const auto& c : cases) {
    absl::StatusOr<Decision> d = Evaluate(*policy, c->facts, traced);
    ASSERT_TRUE(d.ok()) << d.status();
    expected.push_back(DecisionToJson(*d));
  }

  constexpr int kThreads = 8;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Decision d;
      for (int round = 0; round < 3; ++round) {
        for (size_t k = 0; k < cases.size(); ++k) {
          const size_t i = (k * (t + 1) + static_cast<size_t>(round)) % cases.size();
          EvalOptions options;
          options.trace = (k % 2) == 0;
          if (!EvaluateInto(*policy, cases[i]->facts, options, &d).ok()) {
            ++mismatches[static_cast<size_t>(t)];
            continue;
          }
          if (options.trace && DecisionToJson(d) != expected[i]) {
            ++mismatches[static_cast<size_t>(t)];
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[static_cast<size_t>(t)], 0) << t;
}

}  // namespace
}  // namespace creditd::engine
