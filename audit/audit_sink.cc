#include "audit/audit_sink.h"

#include "engine/decision_json.h"

namespace creditd::audit {

std::string LoggedResult(const engine::Decision& decision, int format) {
  engine::JsonOptions json;
  json.pretty = false;
  json.scorecards = format < 2;
  json.trace = false;
  return engine::DecisionToJson(decision, json);
}

}  // namespace creditd::audit
