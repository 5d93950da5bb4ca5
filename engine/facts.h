#pragma once

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace creditd::engine {

// One fact as a caller sent it, before validation. Text forms (decimals,
// enum symbols, dates) are views into the caller's memory, which must outlive
// the evaluation.
struct FactValue {
  enum class Kind { kBool, kInt, kDecimal, kSymbol, kDate };
  Kind kind = Kind::kBool;
  bool b = false;
  int64_t i = 0;
  // kDecimal: "1250000.00", "-0.5"; for a percent also "55%" (0.55).
  // kSymbol: "strategic". kDate: "2026-11-22".
  absl::string_view text;

  static FactValue Bool(bool v) { return {Kind::kBool, v, 0, {}}; }
  static FactValue Int(int64_t v) { return {Kind::kInt, false, v, {}}; }
  static FactValue Decimal(absl::string_view t) { return {Kind::kDecimal, false, 0, t}; }
  static FactValue Symbol(absl::string_view t) { return {Kind::kSymbol, false, 0, t}; }
  static FactValue Date(absl::string_view t) { return {Kind::kDate, false, 0, t}; }
};

// The same kind and the same value of that kind (texts byte for byte).
inline bool operator==(const FactValue& a, const FactValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case FactValue::Kind::kBool:
      return a.b == b.b;
    case FactValue::Kind::kInt:
      return a.i == b.i;
    default:
      return a.text == b.text;
  }
}
inline bool operator!=(const FactValue& a, const FactValue& b) { return !(a == b); }

struct Fact {
  absl::string_view name;
  FactValue value;
};

inline bool operator==(const Fact& a, const Fact& b) {
  return a.name == b.name && a.value == b.value;
}
inline bool operator!=(const Fact& a, const Fact& b) { return !(a == b); }

// The facts of one request: a list of named values. Cheap to reuse: Clear()
// keeps the capacity.
class Facts {
 public:
  Facts& Add(absl::string_view name, FactValue value) {
    facts_.push_back({name, value});
    return *this;
  }
  void Clear() { facts_.clear(); }
  void Reserve(size_t n) { facts_.reserve(n); }
  const std::vector<Fact>& all() const { return facts_; }

 private:
  std::vector<Fact> facts_;
};

}  // namespace creditd::engine
