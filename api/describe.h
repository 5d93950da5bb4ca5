#pragma once

// A decision's contract as the API describes it (DescribeDecision, and
// `creditctl schema`): inputs, outputs, reasons and outcomes of a compiled
// policy.

#include "credit/v1/creditd.pb.h"
#include "engine/compiled_policy.h"

namespace creditd::api {

// Describes `policy` into `out`.
void DescribeDecision(const engine::CompiledPolicy& policy,
                      credit::v1::DescribeDecisionResponse* out);

}  // namespace creditd::api
