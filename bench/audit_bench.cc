// The audit log alone: how many decision records per second SqliteAuditSink
// commits, durable (fsync per group) and async, with records the size of a
// credit_application decision, offered by callers that keep `window`
// records waiting (as a busy server does).
//
//   build/release/bench/audit_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "benchmark/benchmark.h"

namespace creditd::audit {
namespace {

AuditRecord Record(int64_t i) {
  AuditRecord r;
  // Time-ordered, like the server's UUIDv7 ids.
  r.decision_id = absl::StrCat("019ab0c2-", 1000000 + i / 1000, "-7abc-8abc-", 100000000000 + i);
  r.time = "2026-11-23T10:00:00.000Z";
  r.customer_id = absl::StrCat("C-", i % 5000);
  r.request_id = absl::StrCat("R-", i);
  r.decision = r.policy_name = "credit_application";
  r.policy_version = "1.0.0";
  r.policy_sha256 = std::string(64, 'a');
  r.facts_json = absl::StrCat(
      R"({"bad_debt_count": 0, "cooperation_years": 4, "current_ratio": "1.8", )",
      R"("debt_ratio": "0.55", "equity_pledge_ratio": "0.1", "has_collateral": true, )",
      R"("industry_risk": "low", "major_litigation": false, "max_days_overdue_12m": 0, )",
      R"("net_margin": "0.08", "overdue_count_12m": 0, "requested_limit": ")", i,
      R"(", "segment": "existing", "years_in_business": 12})");
  r.result_json =
      absl::StrCat(R"({"decision":"credit_application","policy":{"name":"credit_application",)",
                   R"("version":"1.0.0","sha256":")", std::string(64, 'a'),
                   R"("},"outcome":"approve","outputs":{"score":"92.8","grade":"A",)",
                   R"("credit_limit":"800000.00","payment_terms_days":60,"requirements":[],)",
                   R"("approval_level":"credit_specialist","warning":"none"},"reasons":[]})");
  return r;
}

void BM_Append(benchmark::State& state) {
  const bool durable = state.range(0) == 1;
  const int window = static_cast<int>(state.range(1));
  const std::string path = absl::StrCat("audit_bench_", getpid(), ".db");
  SqliteOptions options;
  options.durability = durable ? Durability::kDurable : Durability::kAsync;
  auto sink = SqliteAuditSink::Open(path, options);
  if (!sink.ok()) {
    state.SkipWithError(std::string(sink.status().message()).c_str());
    return;
  }
  std::mutex mutex;
  std::condition_variable room;
  int waiting = 0;
  int64_t i = 0;
  for (auto _ : state) {
    std::unique_lock<std::mutex> lock(mutex);
    room.wait(lock, [&] { return waiting < window; });
    ++waiting;
    lock.unlock();
    (*sink)->AppendAsync(Record(i++), [&](absl::Status) {
      std::lock_guard<std::mutex> guard(mutex);
      --waiting;
      room.notify_one();
    });
  }
  (void)(*sink)->Flush();
  sink->reset();
  state.SetItemsProcessed(state.iterations());
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ignored);
}
BENCHMARK(BM_Append)
    ->ArgNames({"durable", "window"})
    ->Args({1, 256})
    ->Args({1, 4096})
    ->Args({0, 4096})
    ->UseRealTime();

}  // namespace
}  // namespace creditd::audit

BENCHMARK_MAIN();
