#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/decimal.h"
#include "engine/types.h"
#include "engine/value.h"

namespace creditd::engine {

class CompiledPolicy;

// Which policy text produced a decision: name, declared version, and the
// SHA-256 (hex) of the canonical source with its imports.
struct PolicyId {
  std::string name;
  std::string version;
  std::string sha256;
};

// One output of a decision. `has_value` is false only for an output with no
// value that no fired rule set.
struct OutputValue {
  absl::string_view name;
  Type type;
  Value value;
  bool has_value = false;
  // Money of an edition 2 policy: the decimal places it is shown with,
  // exactly (`money(0)` shows "23", money "23.00"); -1: at least two.
  int places = -1;
};

// Why: a reason code from a fired rule, with where the rule is.
struct Reason {
  absl::string_view code;
  absl::string_view message;  // as declared; Message() is what the decision says
  absl::string_view rule;     // the rule's id
  absl::string_view file;     // the file that declares the rule
  int line = 0;
  int severity = -1;  // ordinal of the outcome the rule gave; -1 when it gave none
  // A message that quotes values (edition 2), filled in with this decision's.
  bool filled_in = false;
  std::string filled;

  // The message as the decision gives it.
  absl::string_view Message() const { return filled_in ? absl::string_view(filled) : message; }
};

// One scorecard factor's result.
struct FactorResult {
  absl::string_view group;
  absl::string_view subject;
  int bin = 0;  // 0-based row that matched
  Decimal points;
  Decimal max_points;
  Decimal weighted_lost;     // group weight x (max_points - points)
  absl::string_view reason;  // the factor's reason code, empty if none
};

struct GroupResult {
  absl::string_view name;
  Decimal weight;
  Decimal points;
};

struct ScorecardResult {
  absl::string_view name;
  Decimal total;
  std::vector<GroupResult> groups;
  std::vector<FactorResult> factors;
  // Factors whose reason applies (points below its threshold), by weighted
  // points lost, largest first (source order on ties), at most four:
  // indexes into factors.
  std::vector<int> top_reasons;
};

// One step of an evaluation, for "why did this case get that answer".
struct TraceStep {
  enum class Kind { kLet, kBand, kTable, kFactor, kScorecard, kRule, kOutput };
  Kind kind = Kind::kLet;
  std::string name;
  std::string value;     // the value it produced ("fired" / "not fired" for rules)
  std::string detail;    // e.g. "row 3", "bin 2: (60%, 70%]"
  std::string location;  // file:line
  std::vector<std::pair<std::string, std::string>> reads;  // inputs read, name -> value
  std::vector<int> rows;  // bands, tables, factors: the 0-based rows (bins) that matched
  bool fired = false;     // rules: whether it fired
};

// The answer for one set of facts. Views point into the CompiledPolicy,
// which must outlive the decision. Reusing one Decision for many
// evaluations keeps its buffers: no allocation once they are large enough.
struct Decision {
  const CompiledPolicy* policy = nullptr;
  absl::string_view decision;  // the policy's name
  bool has_outcome = false;
  absl::string_view outcome;  // the outcome symbol, when the policy declares one
  int outcome_ordinal = 0;
  std::vector<OutputValue> outputs;  // in declaration order
  std::vector<Reason> reasons;       // by severity, then source order
  std::vector<ScorecardResult> scorecards;
  std::vector<TraceStep> trace;  // only with EvalOptions::trace
  // The evaluation date the policy read as `today` (days since 1970-01-01);
  // empty when it reads none.
  std::optional<int64_t> evaluation_date;

  const PolicyId& policy_id() const;
  // The output named `name`, or null.
  const OutputValue* Output(absl::string_view name) const;
};

}  // namespace creditd::engine
