#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "cli/creditctl.h"
#include "cli/facts_json.h"
#include "engine/bundle.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"
#include "engine/facts.h"

namespace creditd::cli {

// Which version of a decision to take from a directory.
struct VersionChoice {
  // The day whose version is wanted: the latest effective on or before it,
  // ties broken by semantic version. Empty: today, in UTC.
  std::optional<absl::CivilDay> as_of;
  // An audit log (`--audit`): the versions it binds are candidates too, and
  // the directory is held against them as creditd holds it at start.
  std::string audit;
  // The evaluation date, `today` in an edition 2 policy
  // (`--evaluation-date`): empty means the `as_of` day, or else today in UTC.
  std::optional<absl::CivilDay> evaluation_date;
};

// Loads the policy directory `dir` as creditd loads it (engine::LoadBundle:
// every file, several versions side by side, any error refuses it), with,
// given `audit`, every version that log binds restored into `registry` and
// the directory held against them (engine::Registry::Bind, E0602). The
// bundle, when it loads, is installed in `registry`. A non-OK status (the
// exit code set, the reason printed) when the directory or the log cannot
// be read; diagnostics come back in the load for the caller to print.
// `options` as creditd's (approvals required, for check).
absl::StatusOr<engine::BundleLoad> LoadDirectory(const std::string& dir, const std::string& audit,
                                                 engine::Registry& registry, Context& context,
                                                 const engine::BundleOptions& options = {});

// Loads, checks and compiles the decision `name` from `path`: a policy file
// (taken as it is; `choice` must be empty), or a directory, loaded as
// LoadDirectory does, from which the version `choice` says is taken.
// Prints diagnostics to context.err; sets the exit code and returns an
// error when it cannot.
absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> LoadDecision(
    const std::string& path, const std::string& name, Context& context,
    const VersionChoice& choice = {});

// Parses an `--as-of` day (YYYY-MM-DD); InvalidArgument naming it otherwise.
absl::StatusOr<absl::CivilDay> ParseAsOf(const std::string& text);

// Reads facts from a JSON object (`path`, or "-" for stdin) into `document`
// and `facts` (which point into the document), as AddFacts reads them.
absl::Status ReadFacts(const std::string& path, const engine::CompiledPolicy& policy,
                       FactsJson* document, engine::Facts* facts);

// Adds the members of JSON object `object`, a value of `document`, as facts:
// a JSON integer is an int fact, a number with a fraction a decimal, true and
// false a bool, and a string a decimal, an enum symbol or a date by the
// input's type (a decimal for a name that is not an input). Null means "not
// given". Names in `skip` are left out.
void AddFacts(const FactsJson& document, const rapidjson::Value& object,
              const engine::CompiledPolicy& policy, const rapidjson::Value* skip,
              engine::Facts* facts);

// Parses facts JSON text (as ReadFacts does, from memory).
absl::Status ParseFacts(const std::string& json, const engine::CompiledPolicy& policy,
                        FactsJson* document, engine::Facts* facts);

// What `--as-of`, `--audit` and `--evaluation-date` were given as.
struct VersionFlags {
  std::string as_of;
  std::string audit;
  std::string evaluation_date;
};

// Adds --as-of and --audit to `command`, into `flags`, and with
// `evaluation_date` --evaluation-date too.
void AddVersionChoice(CLI::App& command, VersionFlags* flags, bool evaluation_date = true);
// Reads them into `choice`; on a bad day prints why, sets the exit code and
// returns false.
bool ParseVersionChoice(const VersionFlags& flags, Context& context, VersionChoice* choice);

// The evaluation date `choice` gives, as days since 1970-01-01.
int64_t EvaluationDate(const VersionChoice& choice);

// Loads the decision, reads the facts and evaluates; on any failure prints
// what went wrong (every fact problem on its own line) and returns false.
bool EvaluateForCli(const std::string& path, const std::string& decision,
                    const std::string& facts_path, bool trace, const VersionChoice& choice,
                    Context& context, std::shared_ptr<const engine::CompiledPolicy>* policy,
                    engine::Decision* result);

}  // namespace creditd::cli
