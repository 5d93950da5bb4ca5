#include "engine/row_tests.h"

#include <algorithm>

namespace creditd::engine {

namespace ast = dsl::ast;

std::optional<Value> ConstantOf(const CheckedPolicy& policy, const ast::Expr& expr,
                                const Type& type) {
  const ExprInfo* info = policy.Info(&expr);
  if (info == nullptr || !info->constant) return std::nullopt;
  Value v = *info->constant;
  if (type.is_numeric()) {
    absl::StatusOr<Value> converted = Convert(v, type.kind);
    if (converted.ok()) v = *converted;
  }
  return v;
}

size_t LookupSegments(const std::vector<Domain>& rows, const Type& type) {
  if (type.kind == TypeKind::kBool) return 2;
  if (type.kind == TypeKind::kEnum) {
    return type.enum_type == nullptr ? 0 : type.enum_type->symbols.size();
  }
  std::vector<Decimal> bounds;
  for (const Domain& d : rows) {
    for (const Domain::Range& r : d.ranges()) {
      if (!r.low.infinite) bounds.push_back(r.low.value);
      if (!r.high.infinite) bounds.push_back(r.high.value);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return 2 * bounds.size() + 1;
}

std::optional<Domain> IntervalDomainOf(const CheckedPolicy& policy, const ast::Interval& i,
                                       const Type& type) {
  std::optional<Value> low = ConstantOf(policy, *i.low, type);
  std::optional<Value> high = ConstantOf(policy, *i.high, type);
  if (!low || !high) return std::nullopt;
  return Domain::Between(type, *low, i.low_closed, *high, i.high_closed);
}

std::optional<Domain> TestDomainOf(const CheckedPolicy& policy, const ast::Test& test,
                                   const Type& type) {
  switch (test.kind) {
    case ast::TestKind::kAny:
      return Domain::Full(type);
    case ast::TestKind::kCompare: {
      std::optional<Value> v = ConstantOf(policy, *test.value, type);
      if (!v) return std::nullopt;
      return Domain::Compare(type, ast::OpText(test.op), *v);
    }
    case ast::TestKind::kInterval:
      return IntervalDomainOf(policy, *test.interval, type);
    case ast::TestKind::kSet: {
      std::vector<Value> values;
      for (const ast::ExprPtr& e : test.set) {
        std::optional<Value> v = ConstantOf(policy, *e, type);
        if (!v) return std::nullopt;
        values.push_back(*v);
      }
      return Domain::Points(type, values);
    }
    case ast::TestKind::kEqual: {
      std::optional<Value> v = ConstantOf(policy, *test.value, type);
      if (!v) return std::nullopt;
      return Domain::Point(type, *v);
    }
  }
  return std::nullopt;
}

}  // namespace creditd::engine
