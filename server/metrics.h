#pragma once

// Prometheus metrics of creditd (--metrics_listen): the gRPC server metrics
// named as the gRPC ecosystem names them (grpc_server_started_total,
// grpc_server_handled_total, grpc_server_handling_seconds), decisions by
// outcome, the decision log, reloads, the policies serving and the
// challenger's counts.
//
// The request path only bumps relaxed atomics (no lock, no allocation); the
// metric families are built when Prometheus scrapes. Without
// --metrics_listen there is no ServerMetrics, and the services pay a null
// check. Label values come from fixed tables (the RPCs below) or from the
// policies loaded (decision names, outcomes), never from what a caller
// sends: no caller can create a series.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/commit_queue.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace creditd::server {

struct ServingState;

// Every RPC creditd serves, and one for any other method a caller names.
enum class Rpc : uint8_t {
  kEvaluate,
  kEvaluateStream,
  kListPolicies,
  kGetPolicySource,
  kDescribeDecision,
  kValidatePolicy,
  kReload,
  kHealthCheck,
  kHealthWatch,
  kReflection,
  kUnknown,  // a method no service of creditd's has: one series for them all
};
inline constexpr size_t kRpcs = static_cast<size_t>(Rpc::kUnknown) + 1;

// The labels of an RPC: grpc_service, grpc_method, grpc_type.
struct RpcLabels {
  const char* service;
  const char* method;
  const char* type;  // unary, client_stream, server_stream, bidi_stream
};
const RpcLabels& LabelsOf(Rpc rpc);
// The RPC of a full method name ("/grpc.health.v1.Health/Check"); kUnknown
// for any name not in the table.
Rpc RpcOf(absl::string_view method);

// gRPC's status code names, as go-grpc-prometheus labels grpc_code: "OK",
// "INVALID_ARGUMENT", ...; "UNKNOWN" for a number out of range.
const char* CodeName(int code);

// A histogram of integer observations (nanoseconds, records) on fixed
// bounds, counted with relaxed atomics: observing takes no lock. A scrape
// reads each bucket once; the count is the sum of the buckets read, so a
// scrape always shows count == the +Inf bucket.
class AtomicHistogram {
 public:
  // `bounds` ascending, in the observed unit; the exposed unit is that one
  // divided by `divisor` (1e9: nanoseconds shown as seconds).
  AtomicHistogram(std::vector<uint64_t> bounds, double divisor);
  void Observe(uint64_t value);
  // The histogram as Prometheus shows it.
  void Fill(prometheus::ClientMetric& metric) const;

 private:
  const std::vector<uint64_t> bounds_;
  const double divisor_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (+Inf)
  std::atomic<uint64_t> sum_{0};
};

// The counters of one (decision, outcome).
using DecisionCounter = std::atomic<uint64_t>;

class ServerMetrics final : public prometheus::Collectable {
 public:
  using Clock = std::chrono::steady_clock;

  ServerMetrics();
  ~ServerMetrics() override;

  // A call of `rpc` arrived.
  void Started(Rpc rpc) {
    rpcs_[static_cast<size_t>(rpc)]->started.fetch_add(1, std::memory_order_relaxed);
  }
  // It was answered with `code`, `started` being when it arrived.
  void Handled(Rpc rpc, grpc::StatusCode code, Clock::time_point started);

  // The counter of decisions answered for `decision` with `outcome` ("" for
  // a decision of outputs only). Both come from a policy served, never from
  // a caller; past kMaxDecisionSeries pairs every new one shares the series
  // decision="", outcome="". The counter lives as long as this.
  DecisionCounter* Decisions(absl::string_view decision, absl::string_view outcome);
  static constexpr size_t kMaxDecisionSeries = 10000;

  // A policy reload ended, accepted or rejected.
  void Reloaded(bool accepted) {
    (accepted ? reloads_accepted_ : reloads_rejected_).fetch_add(1, std::memory_order_relaxed);
  }

  // The decision log's hooks (audit::QueueOptions), and how deep its queue
  // is and may grow.
  void OnGroupCommit(const audit::GroupCommit& group);
  void OnRecordsDropped(size_t records) {
    log_dropped_.fetch_add(records, std::memory_order_relaxed);
  }
  void WatchLog(std::function<size_t()> depth, size_t limit);

  // Policies serving (policy_info) and the challenger's counts, read at each
  // scrape. `state` must outlive this, or be unwatched first.
  void WatchServing(const ServingState* state);

  // The calls to other services than creditd's own (the health check,
  // reflection) and to unknown methods, which the services cannot count
  // themselves: a server interceptor counts those, and leaves the calls of
  // creditd's services alone.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct alignas(64) RpcCounts {
    RpcCounts();
    std::atomic<uint64_t> started{0};
    std::array<std::atomic<uint64_t>, 17> handled{};  // by grpc::StatusCode, 0..16
    AtomicHistogram seconds;
  };
  // (decision, outcome), looked up without copying either.
  using DecisionKey = std::pair<std::string, std::string>;
  using DecisionView = std::pair<absl::string_view, absl::string_view>;
  struct DecisionHash {
    using is_transparent = void;
    size_t operator()(const DecisionView& k) const;
    size_t operator()(const DecisionKey& k) const {
      return (*this)(DecisionView(k.first, k.second));
    }
  };
  struct DecisionEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return absl::string_view(a.first) == absl::string_view(b.first) &&
             absl::string_view(a.second) == absl::string_view(b.second);
    }
  };

  std::array<std::unique_ptr<RpcCounts>, kRpcs> rpcs_;

  mutable absl::Mutex decisions_mutex_;
  absl::flat_hash_map<DecisionKey, std::unique_ptr<DecisionCounter>, DecisionHash, DecisionEq>
      decisions_ ABSL_GUARDED_BY(decisions_mutex_);

  std::atomic<uint64_t> reloads_accepted_{0};
  std::atomic<uint64_t> reloads_rejected_{0};

  AtomicHistogram log_commit_seconds_;
  AtomicHistogram log_group_records_;
  std::atomic<uint64_t> log_written_{0};
  std::atomic<uint64_t> log_failures_{0};
  std::atomic<uint64_t> log_dropped_{0};
  std::atomic<bool> log_failing_{false};

  mutable absl::Mutex watch_mutex_;
  std::function<size_t()> log_depth_ ABSL_GUARDED_BY(watch_mutex_);
  size_t log_limit_ ABSL_GUARDED_BY(watch_mutex_) = 0;
  const ServingState* serving_ ABSL_GUARDED_BY(watch_mutex_) = nullptr;
};

}  // namespace creditd::server
