#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"
#include "engine/facts.h"

namespace creditd::engine {

// Which conversions a fact may go through on its way to an input's value.
enum class FactRules {
  // No conversion that could change what a value means: an int input takes
  // an int; a percent a decimal ("0.55" or "55%"), never an int (1 would be
  // 100%); money and decimal a decimal or an int, which keeps its meaning. A
  // decimal may have no more places than its input holds, trailing zeros not
  // counted: money 2 unless the input declares `money(N)`, percent 4 as a
  // fraction (hundredths of a percent), decimal 18. A date lies in
  // 0001-01-01..9999-12-31.
  kStrict,
  // The conversions of decisions logged before the strict rules, for audit
  // replay of older records so that they replay as they were made: an int
  // input also takes a decimal that is a whole number ("6.00"), a percent an
  // int (1 is 100%), money and percent any number of places (a percent past
  // 18 as a fraction rounded to 18), and a date of year 0000.
  kLenient,
};

struct EvalOptions {
  // Record every step (lets, bands, tables, factors, rules, outputs) in
  // Decision::trace. Off by default: tracing allocates.
  bool trace = false;
  // How facts are read; only audit replay of older records asks for kLenient.
  FactRules facts = FactRules::kStrict;
  // The evaluation date, `today` in edition 2 (days since 1970-01-01): the
  // date the request gives, or the server's. A policy that reads `today`
  // cannot be evaluated without one (FailedPrecondition).
  std::optional<int64_t> evaluation_date;
};

// One problem with the facts of a request.
struct FactProblem {
  std::string fact;     // the input's name, or an unknown name as sent (EchoText)
  std::string problem;  // e.g. "missing", "`12a` is not a decimal"
};

// Evaluates `policy` against `facts`.
//
// The facts are validated first against the declared inputs and every
// problem is reported at once (missing, unknown, duplicate, wrong type,
// malformed, out of range): InvalidArgument whose message lists them, and,
// when `problems` is not null, the same problems as data, sorted by fact.
// Nothing is evaluated on bad facts. `problems` is left empty for any other
// outcome. An arithmetic failure during evaluation (overflow, division by
// zero, a value no row matches) is FailedPrecondition naming the rule or
// value.
//
// Pure and thread-safe: any number of threads may evaluate one policy at
// once. The same facts always give the same decision.
absl::StatusOr<Decision> Evaluate(const CompiledPolicy& policy, const Facts& facts,
                                  const EvalOptions& options = {},
                                  std::vector<FactProblem>* problems = nullptr);

// The same, filling `decision` in place: reusing one Decision keeps its
// buffers, so a warm evaluation without trace allocates nothing.
absl::Status EvaluateInto(const CompiledPolicy& policy, const Facts& facts,
                          const EvalOptions& options, Decision* decision,
                          std::vector<FactProblem>* problems = nullptr);

// A caller's text as a problem (or any message) shows it: at most `max` bytes
// of it, cut at a UTF-8 character boundary and followed by "…" when longer,
// with control characters and bytes that are not UTF-8 written as \xNN. A
// caller may send megabytes, NULs or line breaks; none reaches a message.
inline constexpr size_t kEchoBytes = 32;
std::string EchoText(absl::string_view text, size_t max = kEchoBytes);

}  // namespace creditd::engine
