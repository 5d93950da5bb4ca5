#pragma once

// A logged record's facts and result as people read them (audit show, and
// any verb that lists or exports records).

#include <string>

#include "absl/status/statusor.h"
#include "audit/record.h"

namespace creditd::cli {

// The record's facts as JSON: stored as JSON in every format (from format 5
// their canonical text), so as stored.
std::string RenderFacts(const audit::AuditRecord& record);

// The record's result as one line of JSON: as stored for JSON results
// (formats 1 to 4, reloads); from format 5 a decision's protobuf bytes
// printed by api::DecisionBytesToJson, for display only (the log keeps and
// hashes the bytes). InvalidArgument when those bytes are not a decision.
absl::StatusOr<std::string> RenderResult(const audit::AuditRecord& record);
// The record's challenger result (format 6) as one line of JSON, printed by
// api::ChallengerBytesToJson; "" when it holds none. InvalidArgument when
// its bytes are not a challenger result.
absl::StatusOr<std::string> RenderChallenger(const audit::AuditRecord& record);

}  // namespace creditd::cli
