#pragma once

// One request to one decision: the mapping between the API's messages and the
// engine's facts and decisions, and the audit record of what was answered.
// The only place the generated proto types meet the engine.

#include "audit/audit_sink.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "grpcpp/support/status.h"

namespace creditd::server {

// A decision made and waiting for the log, or the error to answer with.
struct Decided {
  grpc::Status status;                // OK, or what to answer instead of a decision
  credit::v1::FactProblems problems;  // with INVALID_ARGUMENT: every problem
  audit::AuditRecord record;          // with OK: the record to log before answering
};

// Evaluates `request` on the registry's current bundle (or the version it
// pins) into `out` (decision, id, time, request id), and prepares its audit
// record. Nothing is logged here. Unknown decision or version: NOT_FOUND; bad
// facts: INVALID_ARGUMENT with `problems`; a failed evaluation: its status.
// Thread-safe; reuses per-thread buffers.
Decided Decide(const engine::Registry& registry, const credit::v1::EvaluateRequest& request,
               credit::v1::Decision* out);

}  // namespace creditd::server
