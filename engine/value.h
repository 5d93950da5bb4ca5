#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/decimal.h"
#include "engine/types.h"

namespace creditd::engine {

// One value during checking and evaluation. Plain data, no allocation:
// numbers other than int are Decimals, dates are days since 1970-01-01,
// enum values are ordinals and sets of enum values are bit masks.
struct Value {
  TypeKind kind = TypeKind::kError;
  bool b = false;
  int64_t i = 0;      // int, date (days), enum ordinal
  uint64_t bits = 0;  // enum set
  Decimal d;          // decimal, money, percent

  static Value Bool(bool v) {
    Value x;
    x.kind = TypeKind::kBool;
    x.b = v;
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = TypeKind::kInt;
    x.i = v;
    return x;
  }
  static Value Dec(TypeKind kind, Decimal v) {
    Value x;
    x.kind = kind;
    x.d = v;
    return x;
  }
  static Value Date(int64_t days) {
    Value x;
    x.kind = TypeKind::kDate;
    x.i = days;
    return x;
  }
  static Value Enum(int ordinal) {
    Value x;
    x.kind = TypeKind::kEnum;
    x.i = ordinal;
    return x;
  }
  static Value Set(uint64_t bits) {
    Value x;
    x.kind = TypeKind::kEnumSet;
    x.bits = bits;
    return x;
  }

  // The value as a Decimal: ints, decimals, dates and enum ordinals.
  Decimal AsDecimal() const;
};

// The dates a value may hold, as days since 1970-01-01: 0001-01-01 to
// 9999-12-31, the years of a four-digit ISO date. Facts and literals outside
// are refused, and date arithmetic that leaves the range fails.
inline constexpr int64_t kMinDate = -719162;  // 0001-01-01
inline constexpr int64_t kMaxDate = 2932896;  // 9999-12-31
inline constexpr char kDateRange[] = "0001-01-01 to 9999-12-31";

// Days since 1970-01-01 for an ISO date "2026-11-22" in the range above.
// InvalidArgument naming the text for anything that is not a calendar date
// (including 2026-02-30); OutOfRange for a date of year 0000.
absl::StatusOr<int64_t> ParseDate(absl::string_view text);
// The same, also taking year 0000 (days below kMinDate): how dates were read
// before the range, for FactRules::kLenient only.
absl::StatusOr<int64_t> ParseDateAnyYear(absl::string_view text);
// The ISO form of days since 1970-01-01: "2026-11-22". Defined for every
// int64; outside the range the year has more or fewer than four digits.
std::string FormatDate(int64_t days);
// Is `days` a date of the range?
inline bool InDateRange(int64_t days) { return days >= kMinDate && days <= kMaxDate; }

// Parses a policy literal as written: "500_000", "1.5", "55%" (0.55),
// "2026-01-01", "true".
absl::StatusOr<Value> ParseLiteral(absl::string_view text);

// Converts a value to `to` where that is exact and allowed: int to any
// decimal kind; a decimal kind to another (for untyped constants); an
// integral decimal to int. Other conversions are FailedPrecondition.
absl::StatusOr<Value> Convert(const Value& value, TypeKind to);

// Three-way comparison of two values of the same kind (ints and decimals may
// mix). Sets compare equal or not (0 or 1).
int CompareValues(const Value& a, const Value& b);

// The symbols of an enum set, sorted alphabetically (as JSON and gRPC give them).
std::vector<std::string> SetSymbols(const Value& value, const Type& type);

// The value as a person reads it, in policy syntax: "65%", "A", "2026-01-01".
std::string FormatValue(const Value& value, const Type& type);

}  // namespace creditd::engine
