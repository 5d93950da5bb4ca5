#pragma once

// Re-running a logged decision: what `creditctl audit replay` does for each
// decision record, under the rules of the record's format.

#include <string>

#include "absl/status/statusor.h"
#include "audit/record.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"

namespace creditd::cli {

// What re-running one logged decision gave.
struct Replayed {
  bool same = false;
  std::string difference;  // when not the same: what differs, if known
};

// Re-runs decision record `record` on `policy`, the policy rebuilt from the
// source stored under the record's sha256. From record format 5 (the format
// creditd writes): its facts are decoded by engine/facts_codec.h, evaluated
// under the strict rules (with a trace when the logged answer has one), the
// answer is filled by api::FillDecision with the record's id, time and
// request id, and compared as a message with the logged credit.v1.Decision.
// Older formats: ReplayLegacyRecord. A non-OK status when the record cannot
// be re-run (its facts or result do not read, evaluation fails), saying why.
absl::StatusOr<Replayed> ReplayRecord(const audit::AuditRecord& record,
                                      const engine::CompiledPolicy& policy);

// Re-runs the challenger's result a decision record holds (record format 6,
// `challenger` not empty) on `policy`, the challenger's version rebuilt
// from its stored source: on the facts it evaluated (its own when the
// result holds them, else the record's), on the evaluation date its answer
// names, without a trace, compared with its logged answer. A challenger
// that could not decide replays the same when it still cannot. A non-OK
// status when the result does not read.
absl::StatusOr<Replayed> ReplayChallenger(const audit::AuditRecord& record,
                                          const engine::CompiledPolicy& policy);
// The challenger's version a record names; InvalidArgument when its
// challenger result does not read.
absl::StatusOr<engine::PolicyId> ChallengerPolicyOf(const audit::AuditRecord& record);

// Records of formats 1 to 4, which logged the facts as received (JSON) and
// the result as JSON: the facts are read by creditctl's JSON reader
// (ParseFacts), under the lenient fact rules before format 3 and the strict
// ones from it, and the result is compared as LegacyLoggedResult's text.
absl::StatusOr<Replayed> ReplayLegacyRecord(const audit::AuditRecord& record,
                                            const engine::CompiledPolicy& policy);

// The result as formats 1 to 4 logged it: outcome, outputs and reasons as
// compact JSON (engine::DecisionToJson without the trace, and from format 2
// without scorecards).
std::string LegacyLoggedResult(const engine::Decision& decision, int format);

}  // namespace creditd::cli
