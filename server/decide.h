#pragma once

// One request to one decision: bounds, the policy asked for, evaluation, and
// the audit record of what was answered. The API's messages meet the
// engine's types through api/, which creditctl's replay shares.

#include "audit/audit_sink.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "server/challenger.h"
#include "server/limits.h"

namespace creditd::server {

// A decision made and waiting for the log, or the error to answer with.
struct Decided {
  grpc::Status status;                // OK, or what to answer instead of a decision
  credit::v1::FactProblems problems;  // with INVALID_ARGUMENT: every problem
  audit::AuditRecord record;          // with OK: the record to log before answering
};

struct DecideOptions {
  // The bounds the request is held to (server/limits.h).
  Limits limits;
  // Who asked, logged with the decision, and the trusted balancer the call
  // came through (empty for a direct caller).
  std::string caller;
  std::string via;
  // Champion / challenger: when set, a request that pins no version, for a
  // customer in the challenger's share, is decided by the challenger's
  // version in force too, into the record's `challenger` field.
  Challenger* challenger = nullptr;
};

// Evaluates `request` on the version of its decision in force at the
// registry's clock in the current bundle (or the version it pins, any ever
// served) into `out` (decision, id, time: that same instant, request id),
// and prepares its audit record: the canonical text of the facts evaluated
// and `out`'s deterministic bytes (record format 5). Nothing is logged here.
// A request over a limit, an id with control characters or that is not
// UTF-8: INVALID_ARGUMENT; unknown decision or version, or no version in
// force yet: NOT_FOUND; bad facts: INVALID_ARGUMENT with `problems` (at most
// kMaxProblemsShown, each with the caller's values cut short); a failed
// evaluation: its status.
// Messages never repeat more than a short prefix of what the caller sent.
// Thread-safe; reuses per-thread buffers.
Decided Decide(const engine::Registry& registry, const credit::v1::EvaluateRequest& request,
               credit::v1::Decision* out, const DecideOptions& options = {});

// The bytes of an answer that holds a decision: `prefix` (the response's
// fields before the decision's, serialized), then field `field` holding
// `decision`, the decision's bytes as logged (Decided::record.result_json).
// The caller receives exactly the bytes the log keeps, serialized once.
grpc::ByteBuffer AnswerWithDecision(const std::string& prefix, int field,
                                    const std::string& decision);

// What the log stores of `policy` before it serves: its canonical source
// under its identity (the log sets when it was first served).
audit::PolicySource SourceToStore(const engine::CompiledPolicy& policy);

// A new decision (or log record) id: a UUIDv7 (RFC 9562) for `unix_ms`, its
// 74 random bits from the operating system's CSPRNG.
std::string NewDecisionId(int64_t unix_ms);

// `unix_ms` as RFC 3339 in UTC with milliseconds.
std::string FormatTime(int64_t unix_ms);

// Problems listed in an answer; the message says how many more there were.
inline constexpr int kMaxProblemsShown = 10;

}  // namespace creditd::server
