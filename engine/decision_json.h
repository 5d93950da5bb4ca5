#pragma once

#include <string>

#include "engine/decision.h"

namespace creditd::engine {

struct JsonOptions {
  bool pretty = true;  // two-space indentation, one member per line
  bool scorecards = true;
  bool trace = true;  // include the trace when the decision has one
  // Percents as a person reads them, "55.12%", rather than as the fraction
  // they travel as ("0.5512"): how creditctl shows an edition 2 policy's.
  bool percent_points = false;
};

// The decision as JSON:
//   {"decision", "policy": {"name", "version", "sha256"}, "outcome",
//    "outputs": {...}, "reasons": [{"code", "message", "rule", "location"}],
//    "scorecards": [...], "trace": [...]}
// Decimals are strings (money with at least two decimals, percents as
// fractions), sets sorted arrays of symbols, dates ISO strings. The same
// decision always gives the same bytes.
std::string DecisionToJson(const Decision& decision, const JsonOptions& options = {});

// A JSON string literal for `text`, with quotes and escapes.
std::string JsonQuote(absl::string_view text);
// The same, appended to `out`.
void AppendJsonQuoted(absl::string_view text, std::string* out);

// One value as a JSON scalar or array, by the rules above (a percent as
// "55.12%" with `percent_points`).
// Money with `places` >= 0 shows exactly that many places.
std::string JsonValue(const Value& value, const Type& type, bool percent_points = false,
                      int places = -1);

}  // namespace creditd::engine
