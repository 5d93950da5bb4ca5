#pragma once

// creditctl impact --audit LOG --candidate DIR: what a candidate version
// would have decided on the decisions the log holds, against what was
// decided. Each logged decision is re-evaluated under the candidate's
// version of its decision (the highest version in DIR, whatever its
// effective date) on the facts the log kept, and compared with the answer
// the caller received.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/creditctl.h"
#include "engine/decimal.h"

namespace creditd::cli {

struct ImpactOptions {
  std::string audit;      // the decision log
  std::string candidate;  // the candidate policy directory
  // Instead of a candidate: the challenger results the log holds (creditd
  // --challenger), each compared with the champion's answer beside it.
  bool challenger = false;
  std::optional<std::string> since, until, decision;
  std::vector<std::string> by;    // enum inputs to break the figures down by
  std::vector<std::string> sums;  // money outputs to total before and after
  int examples = 3;               // decision ids shown per kind of change
  bool json = false;
  // Threads that read and compare the log, each on a connection of its own,
  // a part (a range of sequences) at a time: 0 for one per core. The report
  // is the same for any number.
  int workers = 0;
  int64_t part_sequences = 16384;
};

// A count, and the first decision ids (in log order) that make it up.
struct Tally {
  int64_t count = 0;
  std::vector<std::string> examples;
};

// Counts of (before, after) pairs.
using Transitions = std::map<std::pair<std::string, std::string>, Tally>;

struct Breakdown {
  int64_t decisions = 0;
  int64_t outcome_changed = 0;
  Transitions outcome;
};

// The figures for one decision.
struct DecisionImpact {
  std::string candidate_version, candidate_sha256;
  int64_t logged = 0;    // decision records of this decision
  int64_t compared = 0;  // re-evaluated and compared
  int64_t outcome_changed = 0;
  int64_t outputs_changed = 0;  // any output's value differs
  int64_t unchanged = 0;        // outcome, outputs and reasons alike
  Tally older_format;           // logged before answers were kept as sent (format 5)
  Tally failed;                 // could not be re-evaluated (an arithmetic error)
  Transitions outcome;
  std::map<std::string, Transitions> enum_outputs;  // by output
  // By --sum output: the total before and after, and how many answers had
  // a value.
  struct Sum {
    engine::Decimal before, after;
    int64_t before_count = 0, after_count = 0;
  };
  std::map<std::string, Sum> sums;
  std::map<std::string, Tally> reasons_gained, reasons_lost;
  std::map<std::string, std::map<std::string, Breakdown>> by;  // input -> value -> figures
  // Facts that no longer fit the candidate: by "input: what is wrong".
  std::map<std::string, Tally> no_longer_fit;
  int64_t no_longer_fit_decisions = 0;
};

struct ImpactReport {
  std::map<std::string, DecisionImpact> decisions;
  // Logged decisions of a decision the candidate does not have; with
  // `challenger`, decisions with no challenger result.
  std::map<std::string, int64_t> without_candidate;
  // The figures compare the challenger's results with the champion's
  // answers (ImpactOptions::challenger); each decision's candidate_version
  // and candidate_sha256 then list every challenger version seen.
  bool challenger = false;
};

// Computes the report; InvalidArgument (a usage error) for flags that do
// not fit the candidate, other errors for a log or directory that cannot
// be read. Prints diagnostics of a candidate with errors to context.err.
absl::StatusOr<ImpactReport> ComputeImpact(const ImpactOptions& options, Context& context);

// Counts as people read them: 1234567 -> "1,234,567"; `part` of `whole` as
// a percent with one decimal, rounded half up ("-" of nothing).
std::string Grouped(int64_t n);
std::string Share(int64_t part, int64_t whole);

// The report for people, and as JSON for tools.
std::string ImpactText(const ImpactReport& report);
std::string ImpactJson(const ImpactReport& report);

}  // namespace creditd::cli
