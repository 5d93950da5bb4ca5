// The server's own work per decision, without the network or the log's
// commit: parsing an Evaluate request, deciding it into the API's answer and
// its audit record (Decide, which serializes the answer once for the log),
// the answer's bytes for gRPC (the logged bytes behind the response's field
// tag), and hashing the record's content. The load generator measures the same work inside the
// running server; this isolates it.
//
//   build/release/bench/decide_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/sample_request.h"
#include "benchmark/benchmark.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "server/decide.h"

namespace creditd::server {
namespace {

namespace v1 = credit::v1;

const engine::Registry& Policies() {
  static const engine::Registry* registry = [] {
    auto* r = new engine::Registry;
    engine::DiskFileReader reader;
    absl::StatusOr<engine::BundleLoad> load =
        engine::LoadBundle(CREDITD_SOURCE_DIR "/policies", reader);
    if (!load.ok() || load->bundle == nullptr || !r->Install(load->bundle).ok()) std::abort();
    return r;
  }();
  return *registry;
}

std::string RequestBytes() { return bench::CreditApplicationRequest().SerializeAsString(); }

// Each step on an arena per iteration, as the server holds its messages.
void BM_ParseRequest(benchmark::State& state) {
  const std::string bytes = RequestBytes();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<v1::EvaluateRequest>(&arena);
    benchmark::DoNotOptimize(request->ParseFromString(bytes));
  }
}
BENCHMARK(BM_ParseRequest);

void BM_Decide(benchmark::State& state) {
  const engine::Registry& registry = Policies();
  v1::EvaluateRequest request;
  request.ParseFromString(RequestBytes());
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* response = google::protobuf::Arena::CreateMessage<v1::EvaluateResponse>(&arena);
    Decided decided = Decide(registry, request, response->mutable_decision());
    if (!decided.status.ok()) state.SkipWithError("not decided");
    benchmark::DoNotOptimize(decided);
  }
}
BENCHMARK(BM_Decide);

// Champion / challenger: the same decision with a challenger (here the same
// policies, so its evaluation costs what the champion's does) for every
// customer, and for none (the cost of choosing: a SHA-256 of the id).
void DecideWithChallenger(benchmark::State& state, int share) {
  const engine::Registry& registry = Policies();
  Challenger challenger("policies", share);
  challenger.Install(registry.Current());
  DecideOptions options;
  options.challenger = &challenger;
  v1::EvaluateRequest request;
  request.ParseFromString(RequestBytes());
  request.set_customer_id("C-000001");  // bucket 9183: in a share above 91.83%
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* response = google::protobuf::Arena::CreateMessage<v1::EvaluateResponse>(&arena);
    Decided decided = Decide(registry, request, response->mutable_decision(), options);
    if (!decided.status.ok()) state.SkipWithError("not decided");
    benchmark::DoNotOptimize(decided);
  }
}
void BM_DecideChallengerForAll(benchmark::State& state) { DecideWithChallenger(state, 10000); }
BENCHMARK(BM_DecideChallengerForAll);
void BM_DecideChallengerOutsideShare(benchmark::State& state) { DecideWithChallenger(state, 1); }
BENCHMARK(BM_DecideChallengerOutsideShare);

// The answer as the server sends it: the decision's logged bytes behind
// EvaluateResponse's field tag.
void BM_SerializeAnswer(benchmark::State& state) {
  v1::EvaluateRequest request;
  request.ParseFromString(RequestBytes());
  v1::EvaluateResponse response;
  Decided decided = Decide(Policies(), request, response.mutable_decision());
  size_t bytes = 0;
  for (auto _ : state) {
    grpc::ByteBuffer out = AnswerWithDecision("", 1, decided.record.result_json);
    bytes = out.Length();
    benchmark::DoNotOptimize(out);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_SerializeAnswer);

void BM_ContentHash(benchmark::State& state) {
  v1::EvaluateRequest request;
  request.ParseFromString(RequestBytes());
  v1::EvaluateResponse response;
  Decided decided = Decide(Policies(), request, response.mutable_decision());
  for (auto _ : state) benchmark::DoNotOptimize(audit::ContentHash(decided.record));
  state.counters["record_bytes"] =
      static_cast<double>(decided.record.facts_json.size() + decided.record.result_json.size());
}
BENCHMARK(BM_ContentHash);

// All of the above in a row: the server's CPU per decision outside gRPC and
// the log's writer.
void BM_WholeDecision(benchmark::State& state) {
  const engine::Registry& registry = Policies();
  const std::string bytes = RequestBytes();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<v1::EvaluateRequest>(&arena);
    auto* response = google::protobuf::Arena::CreateMessage<v1::EvaluateResponse>(&arena);
    request->ParseFromString(bytes);
    Decided decided = Decide(registry, *request, response->mutable_decision());
    benchmark::DoNotOptimize(audit::ContentHash(decided.record));
    grpc::ByteBuffer out = AnswerWithDecision("", 1, decided.record.result_json);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_WholeDecision);

}  // namespace
}  // namespace creditd::server

BENCHMARK_MAIN();
