#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/creditctl.h"
#include "cli/facts_json.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"
#include "engine/facts.h"

namespace creditd::cli {

// Loads, checks and compiles the decision `name` from `path`: a policy file,
// or a directory searched for the policy of that name. Prints diagnostics to
// context.err; sets the exit code and returns an error when it cannot.
absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> LoadDecision(const std::string& path,
                                                                           const std::string& name,
                                                                           Context& context);

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

// Loads the decision, reads the facts and evaluates; on any failure prints
// what went wrong (every fact problem on its own line) and returns false.
bool EvaluateForCli(const std::string& path, const std::string& decision,
                    const std::string& facts_path, bool trace, Context& context,
                    std::shared_ptr<const engine::CompiledPolicy>* policy,
                    engine::Decision* result);

}  // namespace creditd::cli
