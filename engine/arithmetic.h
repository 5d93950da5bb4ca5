#pragma once

#include "absl/status/statusor.h"
#include "dsl/ast.h"
#include "engine/value.h"

namespace creditd::engine {

// Applies arithmetic `op` (kAdd, kSub, kMul, kDiv) to `a` and `b`, giving a
// value of kind `result` (the checker decides it). Exact; overflow, a date
// outside kMinDate..kMaxDate and division by zero are errors (OutOfRange,
// InvalidArgument).
absl::StatusOr<Value> Arithmetic(dsl::ast::Op op, const Value& a, const Value& b, TypeKind result);

// -a, exact; OutOfRange on int64 overflow.
absl::StatusOr<Value> Negate(const Value& a);

}  // namespace creditd::engine
