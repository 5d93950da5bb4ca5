#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "dsl/diagnostic.h"
#include "engine/checked_policy.h"
#include "engine/program.h"
#include "engine/row_tests.h"

namespace creditd::engine {

struct CheckOptions {
  // The static analysis counts its work in units: one per range a set
  // operation reads, one per expression node it visits (so the count, and
  // what gets analysed, is the same on every machine). Past this many it
  // stops and says where (W0507). docs/diagnostics.md (W0507) gives the
  // measured cost of a unit and what policies spend.
  int64_t max_analysis_work = 10'000'000;
  // A table's analysis splits its values into boxes; past this many at once
  // it stops and says so (W0507): a bound on memory.
  int max_analysis_boxes = 20000;
  // The words all tables' compiled lookups may take (E0319 past it); at most
  // kMaxTableLookupWords, which the compiler holds to.
  int64_t max_table_lookup_words = kMaxTableLookupWords;
};

// Checks `program`: header, names, types, rules' effects, then the static
// analysis (gaps, overlaps, unreachable rows, dead rules, unused inputs).
// Every problem goes to `sink` as a diagnostic; the result is returned even
// when there are errors, and must not be compiled then. A non-OK status only
// when there is nothing to check (the policy file itself did not parse).
absl::StatusOr<std::unique_ptr<CheckedPolicy>> Check(std::unique_ptr<Program> program,
                                                     dsl::DiagnosticSink& sink,
                                                     const CheckOptions& options = {});

// Loads `path` with its imports and checks it: LoadProgram then Check.
absl::StatusOr<std::unique_ptr<CheckedPolicy>> LoadAndCheck(const std::string& path,
                                                            FileReader& reader,
                                                            dsl::DiagnosticSink& sink,
                                                            const CheckOptions& options = {});

// The static analysis alone, on a policy that checked without errors.
// Returns the work units it spent.
int64_t Analyze(const CheckedPolicy& policy, dsl::DiagnosticSink& sink,
                const CheckOptions& options);

}  // namespace creditd::engine
