#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/checked_policy.h"
#include "engine/compiled_policy.h"

namespace creditd::engine {

// Compiles a policy that checked without errors into its immutable,
// thread-safe evaluation form. Takes ownership of the checked policy (the
// compiled one keeps its sources and AST for traces and audits).
// FailedPrecondition for a library (nothing to evaluate); Internal if the
// checked policy is inconsistent, which the checker should make impossible.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Compile(
    std::unique_ptr<CheckedPolicy> checked);

}  // namespace creditd::engine
