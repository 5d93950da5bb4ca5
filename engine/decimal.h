#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace creditd::engine {

// How a value is brought to fewer fractional digits.
enum class RoundingMode {
  kHalfEven,  // to the nearest, ties to the even digit (banker's rounding)
  kHalfUp,    // to the nearest, ties away from zero
  kHalfDown,  // to the nearest, ties toward zero
  kUp,        // away from zero
  kDown,      // toward zero (truncate)
  kCeiling,   // toward +infinity
  kFloor,     // toward -infinity
};

// An exact fixed-point decimal: coefficient / 10^scale, with a 128-bit
// coefficient whose magnitude stays below 10^36 and a scale of 0..18.
// Money, percent and decimal values are all Decimals; no binary floating
// point is ever involved, in parsing, arithmetic or formatting.
//
// Arithmetic is exact. The only implicit rounding is where an exact result
// would need more than kMaxScale fractional digits (a quotient, or a product
// of two long fractions): it is rounded half to even at kMaxScale digits.
// Overflow and division by zero are errors, never silent.
class Decimal {
 public:
  static constexpr int kMaxScale = 18;
  static constexpr int kMaxDigits = 36;

  constexpr Decimal() = default;
  static Decimal FromInt(int64_t value) { return Decimal(value, 0); }
  // Builds coefficient / 10^scale; `scale` must be in 0..kMaxScale.
  static absl::StatusOr<Decimal> FromParts(__int128 coefficient, int scale);

  // Parses "-12", "1234.50", "+0.055"; optional sign, digits, optional
  // fraction. No exponent, no spaces, no grouping. Errors name the text.
  static absl::StatusOr<Decimal> Parse(absl::string_view text);

  // The value with exactly its scale's fractional digits: "1234.50", "-0.5", "7".
  std::string ToString() const;
  // The value with trailing fractional zeros removed: "1234.5", "7".
  std::string ToCanonicalString() const;

  __int128 coefficient() const { return coefficient_; }
  int scale() const { return scale_; }
  bool is_zero() const { return coefficient_ == 0; }
  bool is_negative() const { return coefficient_ < 0; }
  // True when the value has no fractional part.
  bool is_integer() const;

  absl::StatusOr<Decimal> Add(const Decimal& other) const;
  absl::StatusOr<Decimal> Sub(const Decimal& other) const;
  absl::StatusOr<Decimal> Mul(const Decimal& other) const;
  // this / divisor, with up to kMaxScale fractional digits, rounded half to
  // even; exact when the quotient terminates within them.
  absl::StatusOr<Decimal> Div(const Decimal& divisor) const;
  Decimal Negate() const { return Decimal(-coefficient_, scale_); }
  Decimal Abs() const { return coefficient_ < 0 ? Negate() : *this; }

  // Rounds to `scale` fractional digits (0..kMaxScale). Rounding to a larger
  // scale than the value has pads with zeros and is exact.
  absl::StatusOr<Decimal> Round(int scale, RoundingMode mode = RoundingMode::kHalfEven) const;
  // The same value with trailing fractional zeros removed.
  Decimal Normalized() const;
  // The integer part when it fits in int64 and there is no fraction.
  absl::StatusOr<int64_t> ToInt64() const;

  // Three-way comparison by value: 1.50 == 1.5.
  static int Compare(const Decimal& a, const Decimal& b) {
    if (a.scale_ == b.scale_) {
      return a.coefficient_ == b.coefficient_ ? 0 : (a.coefficient_ < b.coefficient_ ? -1 : 1);
    }
    return CompareScaled(a, b);
  }
  friend bool operator==(const Decimal& a, const Decimal& b) { return Compare(a, b) == 0; }
  friend bool operator!=(const Decimal& a, const Decimal& b) { return Compare(a, b) != 0; }
  friend bool operator<(const Decimal& a, const Decimal& b) { return Compare(a, b) < 0; }
  friend bool operator<=(const Decimal& a, const Decimal& b) { return Compare(a, b) <= 0; }
  friend bool operator>(const Decimal& a, const Decimal& b) { return Compare(a, b) > 0; }
  friend bool operator>=(const Decimal& a, const Decimal& b) { return Compare(a, b) >= 0; }

 private:
  constexpr Decimal(__int128 coefficient, int scale) : coefficient_(coefficient), scale_(scale) {}
  static int CompareScaled(const Decimal& a, const Decimal& b);

  __int128 coefficient_ = 0;
  int scale_ = 0;
};

}  // namespace creditd::engine
