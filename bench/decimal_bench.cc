// Cost of the exact decimal operations the evaluator performs most.
#include "benchmark/benchmark.h"
#include "engine/decimal.h"

namespace creditd::engine {
namespace {

void BM_DecimalParse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Decimal::Parse("1250000.75"));
}
BENCHMARK(BM_DecimalParse);

void BM_DecimalMulRound(benchmark::State& state) {
  const Decimal amount = Decimal::Parse("1250000.75").value();
  const Decimal rate = Decimal::Parse("0.0005").value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(amount.Mul(rate).value().Round(2));
  }
}
BENCHMARK(BM_DecimalMulRound);

void BM_DecimalCompare(benchmark::State& state) {
  const Decimal a = Decimal::Parse("500000.01").value();
  const Decimal b = Decimal::Parse("500000").value();
  for (auto _ : state) benchmark::DoNotOptimize(Decimal::Compare(a, b));
}
BENCHMARK(BM_DecimalCompare);

}  // namespace
}  // namespace creditd::engine
