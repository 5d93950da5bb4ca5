#include "engine/arithmetic.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace creditd::engine {

using dsl::ast::Op;

absl::StatusOr<Value> Arithmetic(Op op, const Value& a, const Value& b, TypeKind result) {
  if (result == TypeKind::kInt || result == TypeKind::kDate) {
    int64_t out = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(a.i, b.i, &out);
        break;
      case Op::kSub:
        overflow = __builtin_sub_overflow(a.i, b.i, &out);
        break;
      case Op::kMul:
        overflow = __builtin_mul_overflow(a.i, b.i, &out);
        break;
      default:
        return absl::InternalError("integer division has a decimal result");
    }
    if (result == TypeKind::kDate) {
      if (overflow || !InDateRange(out)) {
        return absl::OutOfRangeError(absl::StrCat("the date falls outside ", kDateRange));
      }
      return Value::Date(out);
    }
    if (overflow) return absl::OutOfRangeError("integer overflow");
    return Value::Int(out);
  }
  const Decimal x = a.AsDecimal();
  const Decimal y = b.AsDecimal();
  absl::StatusOr<Decimal> r;
  switch (op) {
    case Op::kAdd:
      r = x.Add(y);
      break;
    case Op::kSub:
      r = x.Sub(y);
      break;
    case Op::kMul:
      r = x.Mul(y);
      break;
    case Op::kDiv:
      r = x.Div(y);
      break;
    default:
      return absl::InternalError("not an arithmetic operator");
  }
  if (!r.ok()) return r.status();
  return Value::Dec(result, *r);
}

absl::StatusOr<Value> Negate(const Value& a) {
  if (a.kind == TypeKind::kInt) {
    if (a.i == INT64_MIN) return absl::OutOfRangeError("integer overflow");
    return Value::Int(-a.i);
  }
  return Value::Dec(a.kind, a.d.Negate());
}

}  // namespace creditd::engine
