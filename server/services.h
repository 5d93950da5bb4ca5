#pragma once

// The gRPC services: requests in, engine calls, audit log, answers out. The
// only place gRPC and the generated proto types meet the engine.
//
// Every method takes the caller's bytes (gRPC's raw callback API) and parses
// them itself, so that a request that does not parse is answered
// INVALID_ARGUMENT with a message (gRPC's own handler would answer
// UNIMPLEMENTED with none), and a stream item that does not parse gets its
// own error answer while the stream goes on.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "credit/v1/creditd.grpc.pb.h"
#include "engine/bundle.h"
#include "engine/program.h"
#include "server/answer_deadlines.h"
#include "server/auth.h"
#include "server/challenger.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "server/policy_worker.h"

namespace creditd::server {

// What the services share: the registry of bundles, the audit log, where
// policies come from, who may call, and the bounds.
struct ServingState {
  ServingState(const Limits& bounds, const std::string& directory,
               engine::RegistryOptions registry_options = {})
      : registry(std::move(registry_options)),
        policy_dir(directory),
        reader(directory),
        limits(bounds),
        authorizer(std::make_shared<AccessPolicy>()),
        calls(bounds.max_calls_per_caller),
        worker(bounds.max_policy_jobs) {}

  engine::Registry registry;
  audit::AuditSink* audit = nullptr;
  std::string policy_dir;
  // Reads the policy directory and nothing else; reports name files inside
  // it, never where it is.
  engine::PolicyDirReader reader;
  // Evaluate calls without a deadline of their own are answered
  // DEADLINE_EXCEEDED after this long (a stalled audit log must not hold
  // callers forever); zero: no default.
  absl::Duration default_deadline = absl::ZeroDuration();
  // Four-eyes approval (--approvers, --required_approvals): above 0, each
  // load reads the approvers file again and refuses any version without
  // this many approvals by distinct approvers of it.
  std::string approvers_file;
  int required_approvals = 0;
  // Champion / challenger (--challenger): null when there is none.
  std::unique_ptr<Challenger> challenger;
  const Limits limits;
  Authorizer authorizer;
  CallsPerCaller calls;
  // Draining (SIGTERM): new calls and streams are refused with UNAVAILABLE
  // so callers go elsewhere; those in flight finish.
  std::atomic<bool> draining{false};
  // Calls not yet answered plus streams not yet done (with every record they
  // sent to the log settled).
  std::atomic<int64_t> in_flight{0};
  std::atomic<int> streams{0};
  // Prometheus metrics (--metrics_listen): null when off, and then the
  // request path pays one check for it.
  ServerMetrics* metrics = nullptr;
  // Runs ValidatePolicy and Reload off gRPC's threads. Last: it is stopped
  // (and its queued jobs run) before the rest of the state goes.
  PolicyWorker worker;
};

// Restores every version the audit log binds into the registry, so that
// each stays pinnable after a restart. At start, before the first load;
// an error (a stored text that does not rebuild) means creditd must not
// serve.
absl::Status RestoreVersions(ServingState& state);

// Who asked for a reload, for the log: an identity, or "start", "signal",
// "watch"; `via` the balancer the call came through, if any. Loads the policy directory (effective
// dates in the registry's zone), holds it against every version served before (Registry::Bind: a
// version served with other text is refused, E0602), stores the sources of
// the versions it adds, binding them in the log, and installs it; on any
// error the current bundle stays and nothing is stored. Logs the outcome,
// and records it (with `caller`) in the audit log. Thread-safe; blocks while
// it loads and stores sources.
engine::BundleLoad ReloadBundle(ServingState& state, const std::string& caller,
                                const std::string& via = "");

// The services take and give raw bytes; see the comment at the top.
using RawDecisionService = credit::v1::DecisionService::WithRawCallbackMethod_Evaluate<
    credit::v1::DecisionService::WithRawCallbackMethod_EvaluateStream<
        credit::v1::DecisionService::Service>>;
using RawPolicyService = credit::v1::PolicyService::WithRawCallbackMethod_ListPolicies<
    credit::v1::PolicyService::WithRawCallbackMethod_GetPolicySource<
        credit::v1::PolicyService::WithRawCallbackMethod_DescribeDecision<
            credit::v1::PolicyService::WithRawCallbackMethod_ValidatePolicy<
                credit::v1::PolicyService::WithRawCallbackMethod_Reload<
                    credit::v1::PolicyService::Service>>>>>;

class DecisionServiceImpl final : public RawDecisionService {
 public:
  explicit DecisionServiceImpl(ServingState& state);
  ~DecisionServiceImpl() override;

  grpc::ServerUnaryReactor* Evaluate(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* EvaluateStream(
      grpc::CallbackServerContext* context) override;

 private:
  ServingState& state_;
  AnswerDeadlines deadlines_;
};

class PolicyServiceImpl final : public RawPolicyService {
 public:
  explicit PolicyServiceImpl(ServingState& state) : state_(state) {}

  grpc::ServerUnaryReactor* ListPolicies(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetPolicySource(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DescribeDecision(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ValidatePolicy(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  ServingState& state_;
};

}  // namespace creditd::server
