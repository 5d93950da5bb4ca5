#pragma once

// The gRPC services: requests in, engine calls, audit log, answers out. The
// only place gRPC and the generated proto types meet the engine.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "credit/v1/creditd.grpc.pb.h"
#include "engine/bundle.h"
#include "engine/program.h"
#include "server/answer_deadlines.h"

namespace creditd::server {

// What the services share: the registry of bundles, the audit log, where
// policies come from.
struct ServingState {
  engine::Registry registry;
  audit::AuditSink* audit = nullptr;
  std::string policy_dir;
  engine::DiskFileReader reader;
  // Evaluate calls without a deadline of their own are answered
  // DEADLINE_EXCEEDED after this long (a stalled audit log must not hold
  // callers forever); zero: no default.
  absl::Duration default_deadline = absl::ZeroDuration();
  // Draining (SIGTERM): new Evaluate calls and streams are refused with
  // UNAVAILABLE so callers go elsewhere; those in flight finish.
  std::atomic<bool> draining{false};
  // Evaluate calls not yet answered plus streams not yet done.
  std::atomic<int64_t> in_flight{0};
};

// Loads the policy directory and installs it; on any error the current
// bundle stays. Logs the outcome. Thread-safe.
engine::BundleLoad ReloadBundle(ServingState& state);

class DecisionServiceImpl final : public credit::v1::DecisionService::CallbackService {
 public:
  explicit DecisionServiceImpl(ServingState& state);
  ~DecisionServiceImpl() override;

  grpc::ServerUnaryReactor* Evaluate(grpc::CallbackServerContext* context,
                                     const credit::v1::EvaluateRequest* request,
                                     credit::v1::EvaluateResponse* response) override;
  grpc::ServerBidiReactor<credit::v1::EvaluateRequest, credit::v1::StreamResponse>* EvaluateStream(
      grpc::CallbackServerContext* context) override;

 private:
  class ArenaAllocator;
  ServingState& state_;
  std::unique_ptr<ArenaAllocator> allocator_;
  AnswerDeadlines deadlines_;
};

class PolicyServiceImpl final : public credit::v1::PolicyService::CallbackService {
 public:
  explicit PolicyServiceImpl(ServingState& state) : state_(state) {}

  grpc::ServerUnaryReactor* ListPolicies(grpc::CallbackServerContext* context,
                                         const credit::v1::ListPoliciesRequest* request,
                                         credit::v1::ListPoliciesResponse* response) override;
  grpc::ServerUnaryReactor* GetPolicySource(grpc::CallbackServerContext* context,
                                            const credit::v1::GetPolicySourceRequest* request,
                                            credit::v1::GetPolicySourceResponse* response) override;
  grpc::ServerUnaryReactor* ValidatePolicy(grpc::CallbackServerContext* context,
                                           const credit::v1::ValidatePolicyRequest* request,
                                           credit::v1::ValidatePolicyResponse* response) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context,
                                   const credit::v1::ReloadRequest* request,
                                   credit::v1::ReloadResponse* response) override;

 private:
  ServingState& state_;
};

}  // namespace creditd::server
