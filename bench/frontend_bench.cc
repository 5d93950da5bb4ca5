// Parse + check speed of a generated 300-rule policy.
//
//   frontend_bench                       warm runs, SLL (two-stage) and LL
//   frontend_bench --cold=sll|ll         one cold parse+check in a fresh process
//
// "Cold" is the first parse in the process: ANTLR fills its prediction cache
// then. Run the cold mode several times (scripts/bench or hyperfine) and take
// the median.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "dsl/parser.h"
#include "engine/checker.h"

namespace creditd::bench {
namespace {

const char* g_path = CREDITD_BENCH_POLICY_300;

void LoadCheck(dsl::PredictionMode mode) {
  engine::DiskFileReader reader;
  dsl::DiagnosticSink sink;
  engine::LoadOptions options;
  options.parse.prediction = mode;
  auto program = engine::LoadProgram(g_path, reader, sink, options);
  if (!program.ok() || sink.has_errors()) {
    std::fprintf(stderr, "cannot load %s\n", g_path);
    std::exit(1);
  }
  auto policy = engine::Check(*std::move(program), sink);
  benchmark::DoNotOptimize(policy);
}

void BM_ParseCheck300_SLL(benchmark::State& state) {
  for (auto _ : state) LoadCheck(dsl::PredictionMode::kTwoStage);
}
BENCHMARK(BM_ParseCheck300_SLL)->Unit(benchmark::kMillisecond);

void BM_ParseCheck300_LL(benchmark::State& state) {
  for (auto _ : state) LoadCheck(dsl::PredictionMode::kLL);
}
BENCHMARK(BM_ParseCheck300_LL)->Unit(benchmark::kMillisecond);

void BM_ParseOnly300_SLL(benchmark::State& state) {
  engine::DiskFileReader reader;
  const std::string text = reader.Read(g_path).value();
  for (auto _ : state) {
    dsl::SourceSet sources;
    dsl::DiagnosticSink sink;
    const int file = sources.Add("bench.credit", text);
    benchmark::DoNotOptimize(dsl::Parse(sources, file, sink));
  }
}
BENCHMARK(BM_ParseOnly300_SLL)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace creditd::bench

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--cold=", 7) == 0) {
      const bool ll = std::strcmp(argv[i] + 7, "ll") == 0;
      const auto start = std::chrono::steady_clock::now();
      creditd::bench::LoadCheck(ll ? creditd::dsl::PredictionMode::kLL
                                   : creditd::dsl::PredictionMode::kTwoStage);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      std::printf("cold parse+check (%s): %.2f ms\n", ll ? "LL" : "SLL", ms);
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
