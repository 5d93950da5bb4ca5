// Evaluation speed: generated 100- and 300-rule policies, the same 100-rule
// policy as native C++, the four reference decisions, and heap allocations
// per decision.
//
//   build/release/bench/engine_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/native_policy.h"
#include "benchmark/benchmark.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/evaluator.h"

// Counts every heap allocation in the process. (GCC cannot see that the
// replaced operator new below pairs with these frees.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
static std::atomic<int64_t> g_allocations{0};
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace creditd::bench {
namespace {

using engine::FactValue;

std::shared_ptr<const engine::CompiledPolicy> Load(const std::string& path) {
  engine::DiskFileReader reader;
  dsl::DiagnosticSink sink;
  auto checked = engine::LoadAndCheck(path, reader, sink);
  if (!checked.ok() || sink.has_errors()) {
    std::fprintf(stderr, "cannot load %s\n", path.c_str());
    std::exit(1);
  }
  auto compiled = engine::Compile(*std::move(checked));
  if (!compiled.ok()) std::exit(1);
  return *compiled;
}

// Facts for the generated policies: the same values as text (for the
// engine) and as plain numbers (for the native function).
struct GeneratedCase {
  std::vector<std::string> texts;
  engine::Facts facts;
  NativeFacts native;
};

const char* kEnums[5][4] = {{"new", "existing", "strategic", nullptr},
                            {"north", "south", "east", "west"},
                            {"low", "medium", "high", nullptr},
                            {"direct", "partner", "online", nullptr},
                            {"bronze", "silver", "gold", "platinum"}};
const char* kEnumNames[5] = {"segment", "region", "industry", "channel", "tier"};
const int kEnumSizes[5] = {3, 4, 3, 3, 4};

std::vector<std::unique_ptr<GeneratedCase>> GeneratedCases(int n) {
  std::mt19937 rng(11);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<std::unique_ptr<GeneratedCase>> cases;
  for (int c = 0; c < n; ++c) {
    auto g = std::make_unique<GeneratedCase>();
    g->texts.reserve(64);
    for (int i = 0; i < 10; ++i) {
      const int64_t cents = uniform(0, 1'000'000'000);
      g->native.money[i] = cents;
      g->texts.push_back(absl::StrCat(cents / 100, ".", absl::Dec(cents % 100, absl::kZeroPad2)));
    }
    for (int i = 0; i < 10; ++i) g->native.ints[i] = uniform(0, 1000);
    for (int i = 0; i < 10; ++i) {
      const int64_t hundredths = uniform(0, 20000);  // 0% .. 200%
      g->native.ratios[i] = hundredths;
      g->texts.push_back(
          absl::StrCat(hundredths / 100, ".", absl::Dec(hundredths % 100, absl::kZeroPad2), "%"));
    }
    for (int i = 0; i < 5; ++i)
      g->native.enums[i] = static_cast<int>(uniform(0, kEnumSizes[i] - 1));
    for (int i = 0; i < 5; ++i) g->native.flags[i] = uniform(0, 1) == 1;
    cases.push_back(std::move(g));
  }
  return cases;
}

// Input names live as long as the process.
const std::vector<std::string>& Names() {
  static const std::vector<std::string>* names = [] {
    auto* v = new std::vector<std::string>;
    for (int i = 0; i < 10; ++i) v->push_back(absl::StrCat("amount_", i));
    for (int i = 0; i < 10; ++i) v->push_back(absl::StrCat("count_", i));
    for (int i = 0; i < 10; ++i) v->push_back(absl::StrCat("ratio_", i));
    return v;
  }();
  return *names;
}

void FillFacts(GeneratedCase& g) {
  const std::vector<std::string>& names = Names();
  for (int i = 0; i < 10; ++i)
    g.facts.Add(names[static_cast<size_t>(i)], FactValue::Decimal(g.texts[static_cast<size_t>(i)]));
  for (int i = 0; i < 10; ++i)
    g.facts.Add(names[static_cast<size_t>(10 + i)], FactValue::Int(g.native.ints[i]));
  for (int i = 0; i < 10; ++i) {
    g.facts.Add(names[static_cast<size_t>(20 + i)],
                FactValue::Decimal(g.texts[static_cast<size_t>(10 + i)]));
  }
  for (int i = 0; i < 5; ++i) {
    g.facts.Add(kEnumNames[i], FactValue::Symbol(kEnums[i][g.native.enums[i]]));
  }
  static const char* kFlags[5] = {"flag_0", "flag_1", "flag_2", "flag_3", "flag_4"};
  for (int i = 0; i < 5; ++i) g.facts.Add(kFlags[i], FactValue::Bool(g.native.flags[i]));
}

std::vector<std::unique_ptr<GeneratedCase>>& Cases() {
  static auto* cases = [] {
    auto* c = new std::vector<std::unique_ptr<GeneratedCase>>(GeneratedCases(64));
    for (auto& g : *c) FillFacts(*g);
    return c;
  }();
  return *cases;
}

void RunEngine(benchmark::State& state, const engine::CompiledPolicy& policy) {
  auto& cases = Cases();
  engine::Decision decision;
  size_t i = 0;
  // Warm the reusable buffers once, then count allocations in the loop.
  (void)engine::EvaluateInto(policy, cases[0]->facts, {}, &decision);
  const int64_t before = g_allocations.load();
  int64_t decisions = 0;
  for (auto _ : state) {
    absl::Status status = engine::EvaluateInto(policy, cases[i]->facts, {}, &decision);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(decision);
    i = (i + 1) % cases.size();
    ++decisions;
  }
  state.counters["allocs_per_decision"] =
      static_cast<double>(g_allocations.load() - before) / static_cast<double>(decisions);
}

void BM_Engine100(benchmark::State& state) {
  static auto policy = Load(CREDITD_BENCH_DIR "/bench_100.credit");
  RunEngine(state, *policy);
}
BENCHMARK(BM_Engine100);

void BM_Engine300(benchmark::State& state) {
  static auto policy = Load(CREDITD_BENCH_DIR "/bench_300.credit");
  RunEngine(state, *policy);
}
BENCHMARK(BM_Engine300);

void BM_Native100(benchmark::State& state) {
  auto& cases = Cases();
  NativeDecision decision;
  size_t i = 0;
  for (auto _ : state) {
    NativePolicy100(cases[i]->native, decision);
    benchmark::DoNotOptimize(decision);
    i = (i + 1) % cases.size();
  }
}
BENCHMARK(BM_Native100);

// The engine without fact validation is not separable; this measures what
// the native function would pay to read the same text facts.
void BM_Native100WithParsing(benchmark::State& state) {
  auto& cases = Cases();
  NativeDecision decision;
  NativeFacts facts;
  size_t i = 0;
  for (auto _ : state) {
    const GeneratedCase& g = *cases[i];
    for (int k = 0; k < 10; ++k) {
      facts.money[k] = engine::Decimal::Parse(g.texts[static_cast<size_t>(k)])
                           .value()
                           .Round(2)
                           .value()
                           .coefficient();
    }
    for (int k = 0; k < 10; ++k) facts.ints[k] = g.native.ints[k];
    for (int k = 0; k < 10; ++k) {
      std::string t = g.texts[static_cast<size_t>(10 + k)];
      t.pop_back();
      facts.ratios[k] = engine::Decimal::Parse(t).value().Round(2).value().coefficient();
    }
    for (int k = 0; k < 5; ++k) facts.enums[k] = g.native.enums[k];
    for (int k = 0; k < 5; ++k) facts.flags[k] = g.native.flags[k];
    NativePolicy100(facts, decision);
    benchmark::DoNotOptimize(decision);
    i = (i + 1) % cases.size();
  }
}
BENCHMARK(BM_Native100WithParsing);

// The reference decisions on fixed, realistic facts.
void RunReference(benchmark::State& state, const char* file, const engine::Facts& facts) {
  static std::map<std::string, std::shared_ptr<const engine::CompiledPolicy>> loaded;
  auto& policy = loaded[file];
  if (!policy) policy = Load(absl::StrCat(CREDITD_SOURCE_DIR "/policies/", file));
  engine::Decision decision;
  (void)engine::EvaluateInto(*policy, facts, {}, &decision);
  const int64_t before = g_allocations.load();
  int64_t decisions = 0;
  for (auto _ : state) {
    absl::Status status = engine::EvaluateInto(*policy, facts, {}, &decision);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(decision);
    ++decisions;
  }
  state.counters["allocs_per_decision"] =
      static_cast<double>(g_allocations.load() - before) / static_cast<double>(decisions);
}

void BM_CreditApplication(benchmark::State& state) {
  engine::Facts facts;
  facts.Add("segment", FactValue::Symbol("new"))
      .Add("requested_limit", FactValue::Decimal("800000"))
      .Add("debt_ratio", FactValue::Decimal("0.65"))
      .Add("current_ratio", FactValue::Decimal("1.6"))
      .Add("net_margin", FactValue::Decimal("0.07"))
      .Add("years_in_business", FactValue::Int(6))
      .Add("cooperation_years", FactValue::Int(0))
      .Add("industry_risk", FactValue::Symbol("medium"))
      .Add("overdue_count_12m", FactValue::Int(1))
      .Add("max_days_overdue_12m", FactValue::Int(12))
      .Add("bad_debt_count", FactValue::Int(0))
      .Add("major_litigation", FactValue::Bool(false))
      .Add("equity_pledge_ratio", FactValue::Decimal("0.2"))
      .Add("has_collateral", FactValue::Bool(false));
  RunReference(state, "credit_application.credit", facts);
}
BENCHMARK(BM_CreditApplication);

void BM_OrderRelease(benchmark::State& state) {
  engine::Facts facts;
  facts.Add("segment", FactValue::Symbol("existing"))
      .Add("grade", FactValue::Symbol("B"))
      .Add("credit_limit", FactValue::Decimal("1000000"))
      .Add("open_receivables", FactValue::Decimal("600000"))
      .Add("open_orders", FactValue::Decimal("250000"))
      .Add("order_amount", FactValue::Decimal("180000"))
      .Add("days_overdue", FactValue::Int(12))
      .Add("has_overdue_explanation", FactValue::Bool(false))
      .Add("warning", FactValue::Symbol("none"))
      .Add("credit_frozen", FactValue::Bool(false));
  RunReference(state, "order_release.credit", facts);
}
BENCHMARK(BM_OrderRelease);

void BM_Dunning(benchmark::State& state) {
  engine::Facts facts;
  facts.Add("days_past_due", FactValue::Int(45))
      .Add("overdue_amount", FactValue::Decimal("125000.50"))
      .Add("has_reasonable_explanation", FactValue::Bool(false))
      .Add("dunning_block", FactValue::Bool(false))
      .Add("segment", FactValue::Symbol("existing"));
  RunReference(state, "dunning.credit", facts);
}
BENCHMARK(BM_Dunning);

void BM_CreditReview(benchmark::State& state) {
  engine::Facts facts;
  facts.Add("segment", FactValue::Symbol("existing"))
      .Add("grade", FactValue::Symbol("A"))
      .Add("current_limit", FactValue::Decimal("1200000"))
      .Add("consecutive_a_years", FactValue::Int(2))
      .Add("consecutive_warnings", FactValue::Int(0))
      .Add("on_time_payment_rate", FactValue::Decimal("0.97"));
  RunReference(state, "credit_review.credit", facts);
}
BENCHMARK(BM_CreditReview);

}  // namespace
}  // namespace creditd::bench

BENCHMARK_MAIN();
