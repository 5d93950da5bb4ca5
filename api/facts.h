#pragma once

// A request's facts as the engine takes them.

#include "credit/v1/creditd.pb.h"
#include "engine/compiled_policy.h"
#include "engine/facts.h"

namespace creditd::api {

// Adds the facts of `request` to `facts`, each value as the kind its oneof
// names; texts are views into `request`, which must outlive `facts`. A fact
// sent without a value is left out when it names an input of `policy`, so
// that it reads as missing, and otherwise added as an empty symbol, which
// validation refuses as not an input.
void AddRequestFacts(const credit::v1::EvaluateRequest& request,
                     const engine::CompiledPolicy& policy, engine::Facts* facts);

}  // namespace creditd::api
