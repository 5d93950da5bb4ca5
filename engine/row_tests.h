#pragma once

#include <optional>

#include "dsl/ast.h"
#include "engine/checked_policy.h"
#include "engine/domain.h"

namespace creditd::engine {

// The constant value of a checked expression, converted to `type` when it is
// numeric; nullopt when the checker found it not constant.
std::optional<Value> ConstantOf(const CheckedPolicy& policy, const dsl::ast::Expr& expr,
                                const Type& type);

// The values a row test accepts on a subject of `type`; nullopt when the
// test is not made of constants.
std::optional<Domain> TestDomainOf(const CheckedPolicy& policy, const dsl::ast::Test& test,
                                   const Type& type);

// The values an interval accepts; nullopt when its bounds are not constant.
std::optional<Domain> IntervalDomainOf(const CheckedPolicy& policy,
                                       const dsl::ast::Interval& interval, const Type& type);

}  // namespace creditd::engine
