#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/checked_policy.h"
#include "engine/compiled_policy.h"

namespace creditd::engine {

struct CompileOptions {
  // A version rebuilt from the text the audit log stored for it keeps the
  // identity it was stored under: this sha256, this text as its canonical
  // source, in this canonical form. Empty: the sha256 of the policy's text
  // in today's canonical form.
  std::string stored_sha256;
  std::string stored_source;
  int stored_form = kCanonicalForm;
};

// Compiles a policy that checked without errors into its immutable,
// thread-safe evaluation form. Takes ownership of the checked policy (the
// compiled one keeps its sources and AST for traces and audits).
// FailedPrecondition for a library (nothing to evaluate); Internal if the
// checked policy is inconsistent, which the checker should make impossible.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Compile(
    std::unique_ptr<CheckedPolicy> checked, const CompileOptions& options = {});

}  // namespace creditd::engine
