#include "server/metrics.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/hash/hash.h"
#include "engine/bundle.h"
#include "server/services.h"

namespace creditd::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr RpcLabels kRpcLabels[kRpcs] = {
    {"credit.v1.DecisionService", "Evaluate", "unary"},
    {"credit.v1.DecisionService", "EvaluateStream", "bidi_stream"},
    {"credit.v1.PolicyService", "ListPolicies", "unary"},
    {"credit.v1.PolicyService", "GetPolicySource", "unary"},
    {"credit.v1.PolicyService", "DescribeDecision", "unary"},
    {"credit.v1.PolicyService", "ValidatePolicy", "unary"},
    {"credit.v1.PolicyService", "Reload", "unary"},
    {"grpc.health.v1.Health", "Check", "unary"},
    {"grpc.health.v1.Health", "Watch", "server_stream"},
    {"grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo", "bidi_stream"},
    {"unknown", "unknown", "unknown"},
};

constexpr const char* kCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
constexpr size_t kCodes = sizeof kCodeNames / sizeof kCodeNames[0];

// Seconds, as nanoseconds: from half a millisecond (a decision with an
// asynchronous log) to ten seconds (a stalled log, a long stream).
std::vector<uint64_t> SecondsBounds() {
  constexpr uint64_t kMicroseconds[] = {500,     1000,    2500,    5000,    10000,
                                        25000,   50000,   100000,  250000,  500000,
                                        1000000, 2500000, 5000000, 10000000};
  std::vector<uint64_t> bounds;
  for (const uint64_t us : kMicroseconds) bounds.push_back(us * 1000);
  return bounds;
}

uint64_t Nanoseconds(ServerMetrics::Clock::duration d) {
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return ns < 0 ? 0 : static_cast<uint64_t>(ns);
}

ClientMetric Labelled(std::vector<ClientMetric::Label> labels) {
  ClientMetric metric;
  metric.label = std::move(labels);
  return metric;
}

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

MetricFamily OneCounter(const char* name, const char* help, uint64_t value) {
  MetricFamily family = Family(name, help, MetricType::Counter);
  family.metric.emplace_back();
  family.metric.back().counter.value = static_cast<double>(value);
  return family;
}

MetricFamily OneGauge(const char* name, const char* help, double value) {
  MetricFamily family = Family(name, help, MetricType::Gauge);
  family.metric.emplace_back();
  family.metric.back().gauge.value = value;
  return family;
}

std::vector<ClientMetric::Label> RpcLabelSet(size_t rpc) {
  const RpcLabels& l = kRpcLabels[rpc];
  return {{"grpc_type", l.type}, {"grpc_service", l.service}, {"grpc_method", l.method}};
}

const char* StateName(engine::VersionState state) {
  switch (state) {
    case engine::VersionState::kScheduled:
      return "scheduled";
    case engine::VersionState::kCurrent:
      return "current";
    case engine::VersionState::kSuperseded:
      return "superseded";
  }
  return "superseded";
}

// Counts the calls of the services gRPC runs itself (health, reflection)
// and of methods nobody serves: started when the call arrives, handled when
// its status is sent.
class CountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(ServerMetrics& metrics, Rpc rpc)
      : metrics_(metrics), rpc_(rpc), started_(ServerMetrics::Clock::now()) {
    metrics_.Started(rpc_);
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_.Handled(rpc_, methods->GetSendStatus().error_code(), started_);
    }
    methods->Proceed();
  }

 private:
  ServerMetrics& metrics_;
  const Rpc rpc_;
  const ServerMetrics::Clock::time_point started_;
};

class CountingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingInterceptorFactory(ServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const Rpc rpc = RpcOf(info->method() != nullptr ? info->method() : "");
    // creditd's own services count their calls themselves, admission
    // refusals included.
    if (static_cast<size_t>(rpc) <= static_cast<size_t>(Rpc::kReload)) return nullptr;
    return new CountingInterceptor(metrics_, rpc);
  }

 private:
  ServerMetrics& metrics_;
};

}  // namespace

const RpcLabels& LabelsOf(Rpc rpc) { return kRpcLabels[static_cast<size_t>(rpc)]; }

Rpc RpcOf(absl::string_view method) {
  for (size_t i = 0; i + 1 < kRpcs; ++i) {
    const RpcLabels& l = kRpcLabels[i];
    const absl::string_view service(l.service);
    const absl::string_view name(l.method);
    if (method.size() == service.size() + name.size() + 2 && method[0] == '/' &&
        method.substr(1, service.size()) == service && method[service.size() + 1] == '/' &&
        method.substr(service.size() + 2) == name) {
      return static_cast<Rpc>(i);
    }
  }
  return Rpc::kUnknown;
}

const char* CodeName(int code) {
  return code >= 0 && static_cast<size_t>(code) < kCodes ? kCodeNames[code] : "UNKNOWN";
}

AtomicHistogram::AtomicHistogram(std::vector<uint64_t> bounds, double divisor)
    : bounds_(std::move(bounds)),
      divisor_(divisor),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void AtomicHistogram::Observe(uint64_t value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void AtomicHistogram::Fill(ClientMetric& metric) const {
  uint64_t cumulative = 0;
  metric.histogram.bucket.clear();
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = i < bounds_.size() ? static_cast<double>(bounds_[i]) / divisor_
                                            : std::numeric_limits<double>::infinity();
    metric.histogram.bucket.push_back(bucket);
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum =
      static_cast<double>(sum_.load(std::memory_order_relaxed)) / divisor_;
}

ServerMetrics::RpcCounts::RpcCounts() : seconds(SecondsBounds(), 1e9) {}

ServerMetrics::ServerMetrics()
    : log_commit_seconds_(SecondsBounds(), 1e9),
      log_group_records_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}, 1.0) {
  for (auto& counts : rpcs_) counts = std::make_unique<RpcCounts>();
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::Handled(Rpc rpc, grpc::StatusCode code, Clock::time_point started) {
  RpcCounts& counts = *rpcs_[static_cast<size_t>(rpc)];
  const int c = static_cast<int>(code);
  const size_t k = c >= 0 && static_cast<size_t>(c) < kCodes ? static_cast<size_t>(c) : 2;
  counts.handled[k].fetch_add(1, std::memory_order_relaxed);
  counts.seconds.Observe(Nanoseconds(Clock::now() - started));
}

size_t ServerMetrics::DecisionHash::operator()(const DecisionView& k) const {
  return absl::HashOf(k.first, k.second);
}

DecisionCounter* ServerMetrics::Decisions(absl::string_view decision, absl::string_view outcome) {
  const DecisionView key(decision, outcome);
  {
    absl::ReaderMutexLock lock(&decisions_mutex_);
    if (auto it = decisions_.find(key); it != decisions_.end()) return it->second.get();
  }
  absl::MutexLock lock(&decisions_mutex_);
  if (auto it = decisions_.find(key); it != decisions_.end()) return it->second.get();
  DecisionKey owned(decision, outcome);
  if (decisions_.size() >= kMaxDecisionSeries) owned = {};
  auto& counter = decisions_[std::move(owned)];
  if (counter == nullptr) counter = std::make_unique<DecisionCounter>(0);
  return counter.get();
}

void ServerMetrics::OnGroupCommit(const audit::GroupCommit& group) {
  log_commit_seconds_.Observe(Nanoseconds(absl::ToChronoNanoseconds(group.latency)));
  if (group.status.ok()) {
    if (group.records > 0) log_group_records_.Observe(group.records);
    log_written_.fetch_add(group.written, std::memory_order_relaxed);
  } else {
    log_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  log_failing_.store(!group.status.ok(), std::memory_order_relaxed);
}

void ServerMetrics::WatchLog(std::function<size_t()> depth, size_t limit) {
  absl::MutexLock lock(&watch_mutex_);
  log_depth_ = std::move(depth);
  log_limit_ = limit;
}

void ServerMetrics::WatchServing(const ServingState* state) {
  absl::MutexLock lock(&watch_mutex_);
  serving_ = state;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::InterceptorFactory() {
  return std::make_unique<CountingInterceptorFactory>(*this);
}

std::vector<MetricFamily> ServerMetrics::Collect() const {
  std::vector<MetricFamily> families;

  MetricFamily started =
      Family("grpc_server_started_total", "RPCs started on the server.", MetricType::Counter);
  MetricFamily handled = Family("grpc_server_handled_total",
                                "RPCs completed on the server, regardless of success or failure.",
                                MetricType::Counter);
  MetricFamily seconds = Family(
      "grpc_server_handling_seconds",
      "Time from an RPC's arrival to its status being sent (a stream's whole life), in seconds.",
      MetricType::Histogram);
  for (size_t r = 0; r < kRpcs; ++r) {
    const RpcCounts& counts = *rpcs_[r];
    ClientMetric s = Labelled(RpcLabelSet(r));
    s.counter.value = static_cast<double>(counts.started.load(std::memory_order_relaxed));
    started.metric.push_back(std::move(s));
    for (size_t c = 0; c < kCodes; ++c) {
      std::vector<ClientMetric::Label> labels = RpcLabelSet(r);
      labels.push_back({"grpc_code", kCodeNames[c]});
      ClientMetric h = Labelled(std::move(labels));
      h.counter.value = static_cast<double>(counts.handled[c].load(std::memory_order_relaxed));
      handled.metric.push_back(std::move(h));
    }
    ClientMetric histogram = Labelled(RpcLabelSet(r));
    counts.seconds.Fill(histogram);
    seconds.metric.push_back(std::move(histogram));
  }
  families.push_back(std::move(started));
  families.push_back(std::move(handled));
  families.push_back(std::move(seconds));

  MetricFamily decisions = Family(
      "creditd_decisions_total",
      "Decisions made and logged, by decision and outcome (empty for a decision of outputs only).",
      MetricType::Counter);
  {
    absl::ReaderMutexLock lock(&decisions_mutex_);
    for (const auto& [key, counter] : decisions_) {
      ClientMetric m = Labelled({{"decision", key.first}, {"outcome", key.second}});
      m.counter.value = static_cast<double>(counter->load(std::memory_order_relaxed));
      decisions.metric.push_back(std::move(m));
    }
  }
  std::sort(decisions.metric.begin(), decisions.metric.end(),
            [](const ClientMetric& a, const ClientMetric& b) { return a.label < b.label; });
  families.push_back(std::move(decisions));

  MetricFamily reloads =
      Family("creditd_reloads_total", "Policy loads (start, SIGHUP, watch, Reload), by result.",
             MetricType::Counter);
  for (const auto& [result, count] : {std::make_pair("accepted", &reloads_accepted_),
                                      std::make_pair("rejected", &reloads_rejected_)}) {
    ClientMetric m = Labelled({{"result", result}});
    m.counter.value = static_cast<double>(count->load(std::memory_order_relaxed));
    reloads.metric.push_back(std::move(m));
  }
  families.push_back(std::move(reloads));

  MetricFamily commit = Family("creditd_audit_commit_seconds",
                               "Time of each group commit of the audit log (with its fsync in "
                               "durable mode), committed or failed, in seconds.",
                               MetricType::Histogram);
  commit.metric.emplace_back();
  log_commit_seconds_.Fill(commit.metric.back());
  families.push_back(std::move(commit));
  MetricFamily group =
      Family("creditd_audit_group_records", "Records in each group the audit log committed.",
             MetricType::Histogram);
  group.metric.emplace_back();
  log_group_records_.Fill(group.metric.back());
  families.push_back(std::move(group));
  families.push_back(OneCounter("creditd_audit_records_written_total",
                                "Records (decisions and reloads) committed to the audit log.",
                                log_written_.load(std::memory_order_relaxed)));
  families.push_back(OneCounter("creditd_audit_commit_failures_total",
                                "Group commits of the audit log that failed.",
                                log_failures_.load(std::memory_order_relaxed)));
  families.push_back(OneCounter(
      "creditd_audit_records_dropped_total",
      "Records accepted and answered but never written (async durability only; always 0 in "
      "durable mode).",
      log_dropped_.load(std::memory_order_relaxed)));
  families.push_back(OneGauge("creditd_audit_failing",
                              "1 while the audit log's last group commit failed, else 0.",
                              log_failing_.load(std::memory_order_relaxed) ? 1 : 0));

  absl::MutexLock lock(&watch_mutex_);
  if (log_depth_) {
    families.push_back(OneGauge("creditd_audit_queue_depth",
                                "Records waiting to be committed to the audit log.",
                                static_cast<double>(log_depth_())));
    families.push_back(OneGauge("creditd_audit_queue_limit",
                                "Most records that may wait (--audit_max_queue); beyond it calls "
                                "get UNAVAILABLE.",
                                static_cast<double>(log_limit_)));
  }
  if (serving_ != nullptr) {
    MetricFamily info = Family("creditd_policy_info",
                               "1 for each policy version the server holds, by state: current, "
                               "scheduled, superseded (pinned requests only), challenger.",
                               MetricType::Gauge);
    for (const engine::VersionInfo& version : serving_->registry.Versions()) {
      const engine::PolicyId& id = version.policy->id();
      ClientMetric m = Labelled({{"name", id.name},
                                 {"version", id.version},
                                 {"sha256", id.sha256},
                                 {"state", StateName(version.state)}});
      m.gauge.value = 1;
      info.metric.push_back(std::move(m));
    }
    if (serving_->challenger != nullptr) {
      const absl::Time now = serving_->registry.Now();
      if (std::shared_ptr<const engine::Bundle> bundle = serving_->challenger->Current();
          bundle != nullptr) {
        for (const auto& [name, decision] : bundle->decisions) {
          const engine::BundleVersion* in_force = decision.InForce(now);
          if (in_force == nullptr) continue;
          const engine::PolicyId& id = in_force->policy->id();
          ClientMetric m = Labelled({{"name", id.name},
                                     {"version", id.version},
                                     {"sha256", id.sha256},
                                     {"state", "challenger"}});
          m.gauge.value = 1;
          info.metric.push_back(std::move(m));
        }
      }
      const Challenger::Counts counts = serving_->challenger->counts();
      families.push_back(OneCounter("creditd_challenger_evaluated_total",
                                    "Decisions the challenger was evaluated alongside.",
                                    static_cast<uint64_t>(counts.evaluated)));
      families.push_back(OneCounter(
          "creditd_challenger_disagreed_total",
          "Of them, those whose outcome (or outputs, for a decision of outputs only) differed "
          "from the champion's; failures included.",
          static_cast<uint64_t>(counts.disagreed)));
      families.push_back(OneCounter("creditd_challenger_failed_total",
                                    "Of them, those the challenger could not decide.",
                                    static_cast<uint64_t>(counts.failed)));
    }
    families.push_back(std::move(info));
  }
  return families;
}

}  // namespace creditd::server
