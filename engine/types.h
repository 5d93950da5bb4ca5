#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dsl/source.h"

namespace creditd::engine {

// An ordered enum declared in a policy: symbols lowest first. Ordinals are
// positions; sets of an enum are 64-bit masks, so an enum has at most 64
// symbols.
struct EnumType {
  static constexpr int kMaxSymbols = 64;
  std::string name;
  std::vector<std::string> symbols;
  dsl::SourceSpan span;

  // The ordinal of `symbol`, or -1.
  int Find(const std::string& symbol) const;
};

enum class TypeKind { kError, kBool, kInt, kDecimal, kMoney, kPercent, kDate, kEnum, kEnumSet };

// The type of a value. `enum_type` is set for kEnum and kEnumSet.
struct Type {
  TypeKind kind = TypeKind::kError;
  const EnumType* enum_type = nullptr;

  static Type Error() { return {}; }
  static Type Of(TypeKind kind) { return {kind, nullptr}; }
  static Type Enum(const EnumType* e) { return {TypeKind::kEnum, e}; }
  static Type Set(const EnumType* e) { return {TypeKind::kEnumSet, e}; }

  bool is_error() const { return kind == TypeKind::kError; }
  // int, decimal, money, percent
  bool is_numeric() const;
  // numeric except int: held as Decimal
  bool is_decimal() const;
  // Values compare with < and >: numbers, dates, enums (by order).
  bool is_ordered() const;

  friend bool operator==(const Type& a, const Type& b) {
    return a.kind == b.kind && a.enum_type == b.enum_type;
  }
  friend bool operator!=(const Type& a, const Type& b) { return !(a == b); }
};

// "money", "Grade", "set of Requirement".
std::string TypeName(const Type& type);

// The scale values of a type are usually held at: money 2 (cents), percent 4
// (hundredths of a percent); -1 for everything else. Facts and constants
// with fewer decimals are padded to it (exactly) so that most comparisons
// compare coefficients directly.
inline int CanonicalScale(TypeKind kind) {
  return kind == TypeKind::kMoney ? 2 : (kind == TypeKind::kPercent ? 4 : -1);
}

// The most decimal places a fact of this type may have, trailing zeros not
// counted: money 2 (an input may declare others, `money(0)`), percent 4 as
// a fraction (hundredths of a percent), decimal 18 (all a Decimal holds);
// -1 for types that are not decimals.
int DefaultPlaces(TypeKind kind);

}  // namespace creditd::engine
