#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/creditctl.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"
#include "engine/facts.h"
#include "rapidjson/document.h"

namespace creditd::cli {

// Loads, checks and compiles the decision `name` from `path`: a policy file,
// or a directory searched for the policy of that name. Prints diagnostics to
// context.err; sets the exit code and returns an error when it cannot.
absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> LoadDecision(const std::string& path,
                                                                           const std::string& name,
                                                                           Context& context);

// Reads facts from a JSON object (`path`, or "-" for stdin) into `document`
// and `facts` (which point into the document). Numbers are read from their
// text, never through binary floating point; strings become decimals, enum
// symbols or dates according to the input's type; null means "not given".
absl::Status ReadFacts(const std::string& path, const engine::CompiledPolicy& policy,
                       rapidjson::Document* document, engine::Facts* facts);

// Adds the members of JSON object `object` as facts (as ReadFacts reads them),
// skipping nulls and any name in `skip`.
void AddFacts(const rapidjson::Value& object, const engine::CompiledPolicy& policy,
              const rapidjson::Value* skip, engine::Facts* facts);

// Parses facts JSON text (as ReadFacts does, from memory).
absl::Status ParseFacts(const std::string& json, const engine::CompiledPolicy& policy,
                        rapidjson::Document* document, engine::Facts* facts);

// Loads the decision, reads the facts and evaluates; on any failure prints
// what went wrong (every fact problem on its own line) and returns false.
bool EvaluateForCli(const std::string& path, const std::string& decision,
                    const std::string& facts_path, bool trace, Context& context,
                    std::shared_ptr<const engine::CompiledPolicy>* policy,
                    engine::Decision* result);

}  // namespace creditd::cli
