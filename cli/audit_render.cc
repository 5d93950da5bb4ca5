#include "cli/audit_render.h"

#include "api/decision.h"

namespace creditd::cli {

std::string RenderFacts(const audit::AuditRecord& record) { return record.facts_json; }

absl::StatusOr<std::string> RenderResult(const audit::AuditRecord& record) {
  if (!audit::ResultIsAnswerBytes(record)) return record.result_json;
  return api::DecisionBytesToJson(record.result_json);
}

absl::StatusOr<std::string> RenderChallenger(const audit::AuditRecord& record) {
  if (record.challenger.empty()) return std::string();
  return api::ChallengerBytesToJson(record.challenger);
}

}  // namespace creditd::cli
