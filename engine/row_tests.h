#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

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

// How many segments the compiled lookup over rows with these domains has:
// a subject of enum or bool type has one per symbol; otherwise the values
// are cut at every distinct bound a row names, a point and the stretch
// below it per bound, and the stretch above the last.
size_t LookupSegments(const std::vector<Domain>& rows, const Type& type);

// A table's compiled lookups hold, per condition column, a mask of the
// matching rows for every segment: segments x ceil(rows / 64) words. All
// tables of a policy together may take at most this many (128 MiB), or a
// policy (or a candidate sent for validation) could make the server
// allocate without bound (E0319).
inline constexpr int64_t kMaxTableLookupWords = int64_t{16} << 20;

// The values an interval accepts; nullopt when its bounds are not constant.
std::optional<Domain> IntervalDomainOf(const CheckedPolicy& policy,
                                       const dsl::ast::Interval& interval, const Type& type);

}  // namespace creditd::engine
