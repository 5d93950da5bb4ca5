#include "engine/decimal.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace creditd::engine {
namespace {

using u128 = unsigned __int128;

constexpr u128 Pow10(int n) {
  u128 value = 1;
  for (int i = 0; i < n; ++i) value *= 10;
  return value;
}

constexpr u128 kPow10Table[19] = {Pow10(0),  Pow10(1),  Pow10(2),  Pow10(3),  Pow10(4),
                                  Pow10(5),  Pow10(6),  Pow10(7),  Pow10(8),  Pow10(9),
                                  Pow10(10), Pow10(11), Pow10(12), Pow10(13), Pow10(14),
                                  Pow10(15), Pow10(16), Pow10(17), Pow10(18)};

// Magnitudes stay below 10^36, so a remainder times ten never overflows.
constexpr u128 kLimit = Pow10(Decimal::kMaxDigits);

u128 Magnitude(__int128 v) {
  return v < 0 ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v);
}

absl::Status Overflow(absl::string_view op) {
  return absl::OutOfRangeError(absl::StrCat(
      "decimal overflow in ", op, ": the result has more than ", Decimal::kMaxDigits, " digits"));
}

// Rounds magnitude `q` given the discarded remainder `r` of divisor `d`.
bool RoundAway(u128 q, u128 r, u128 d, bool negative, RoundingMode mode) {
  if (r == 0) return false;
  // Compare r with d/2 without overflow: r < 10^36, so 2r fits.
  const u128 twice = r * 2;
  switch (mode) {
    case RoundingMode::kHalfEven:
      return twice > d || (twice == d && (q % 2) == 1);
    case RoundingMode::kHalfUp:
      return twice >= d;
    case RoundingMode::kHalfDown:
      return twice > d;
    case RoundingMode::kUp:
      return true;
    case RoundingMode::kDown:
      return false;
    case RoundingMode::kCeiling:
      return !negative;
    case RoundingMode::kFloor:
      return negative;
  }
  return false;
}

__int128 Signed(u128 magnitude, bool negative) {
  __int128 v = static_cast<__int128>(magnitude);
  return negative ? -v : v;
}

}  // namespace

absl::StatusOr<Decimal> Decimal::FromParts(__int128 coefficient, int scale) {
  if (scale < 0 || scale > kMaxScale) {
    return absl::InvalidArgumentError(
        absl::StrCat("decimal scale ", scale, " is outside 0..", kMaxScale));
  }
  if (Magnitude(coefficient) >= kLimit) return Overflow("construction");
  return Decimal(coefficient, scale);
}

absl::StatusOr<Decimal> Decimal::Parse(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("`", text, "` is not a decimal: ", why));
  };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  u128 coefficient = 0;
  uint64_t small = 0;  // the first 18 digits, accumulated cheaply
  int small_digits = 0;
  int int_digits = 0;
  int frac_digits = 0;
  int significant = 0;
  bool seen_point = false;
  absl::string_view fraction;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (seen_point) return bad("more than one decimal point");
      seen_point = true;
      fraction = text.substr(i + 1);
      continue;
    }
    if (c < '0' || c > '9')
      return bad(absl::StrCat("unexpected character `", text.substr(i, 1), "`"));
    if (seen_point) {
      ++frac_digits;
    } else {
      ++int_digits;
    }
    if (coefficient != 0 || small != 0 || c != '0') ++significant;
    if (significant > kMaxDigits) return bad(absl::StrCat("more than ", kMaxDigits, " digits"));
    if (small_digits < 18) {
      small = small * 10 + static_cast<uint64_t>(c - '0');
      ++small_digits;
      coefficient = small;
    } else {
      coefficient = coefficient * 10 + static_cast<u128>(c - '0');
    }
  }
  if (int_digits == 0) return bad("no digits before the decimal point");
  if (seen_point && frac_digits == 0) return bad("no digits after the decimal point");
  // Trailing zeros beyond the maximum scale carry no value.
  while (frac_digits > kMaxScale && coefficient % 10 == 0) {
    coefficient /= 10;
    --frac_digits;
  }
  if (frac_digits > kMaxScale) {
    return bad(absl::StrCat("more than ", kMaxScale, " digits after the decimal point"));
  }
  if (coefficient >= kLimit) return bad(absl::StrCat("more than ", kMaxDigits, " digits"));
  return Decimal(Signed(coefficient, negative), frac_digits);
}

std::string Decimal::ToString() const {
  // Digits from the right into a buffer: the point goes in after `scale_` of
  // them, and zeros pad a fraction shorter than the scale ("0.05"). Only the
  // digits above 64 bits need 128-bit division.
  char buffer[2 * kMaxScale + 48];
  char* const end = buffer + sizeof buffer;
  char* p = end;
  int count = 0;
  auto put = [&](int digit) {
    if (count == scale_ && scale_ > 0) *--p = '.';
    *--p = static_cast<char>('0' + digit);
    ++count;
  };
  u128 big = Magnitude(coefficient_);
  while (big > std::numeric_limits<uint64_t>::max()) {
    put(static_cast<int>(big % 10));
    big /= 10;
  }
  uint64_t small = static_cast<uint64_t>(big);
  while (small > 0 || count <= scale_) {
    put(static_cast<int>(small % 10));
    small /= 10;
  }
  if (coefficient_ < 0) *--p = '-';
  return std::string(p, static_cast<size_t>(end - p));
}

std::string Decimal::ToCanonicalString() const { return Normalized().ToString(); }

bool Decimal::is_integer() const {
  return scale_ == 0 || Magnitude(coefficient_) % Pow10(scale_) == 0;
}

Decimal Decimal::Normalized() const {
  __int128 c = coefficient_;
  int s = scale_;
  if (s == 0 || c == 0) return Decimal(c, 0);
  if (c >= INT64_MIN && c <= INT64_MAX) {
    // 64-bit division is far cheaper than 128-bit.
    int64_t small = static_cast<int64_t>(c);
    while (s > 0 && small % 10 == 0) {
      small /= 10;
      --s;
    }
    return Decimal(small, s);
  }
  while (s > 0 && c % 10 == 0) {
    c /= 10;
    --s;
  }
  return Decimal(c, s);
}

absl::StatusOr<Decimal> Decimal::Add(const Decimal& other) const {
  const int scale = std::max(scale_, other.scale_);
  const u128 ma = Magnitude(coefficient_);
  const u128 mb = Magnitude(other.coefficient_);
  const u128 fa = Pow10(scale - scale_);
  const u128 fb = Pow10(scale - other.scale_);
  if (ma > (kLimit - 1) / fa || mb > (kLimit - 1) / fb) return Overflow("addition");
  const __int128 a = Signed(ma * fa, coefficient_ < 0);
  const __int128 b = Signed(mb * fb, other.coefficient_ < 0);
  const __int128 sum = a + b;  // both below 10^36: cannot overflow 128 bits
  if (Magnitude(sum) >= kLimit) return Overflow("addition");
  return Decimal(sum, scale);
}

absl::StatusOr<Decimal> Decimal::Sub(const Decimal& other) const { return Add(other.Negate()); }

absl::StatusOr<Decimal> Decimal::Mul(const Decimal& other) const {
  const Decimal a = Normalized();
  const Decimal b = other.Normalized();
  const u128 ma = Magnitude(a.coefficient_);
  const u128 mb = Magnitude(b.coefficient_);
  const bool negative = (a.coefficient_ < 0) != (b.coefficient_ < 0);
  if (ma != 0 && mb > (kLimit - 1) / ma) return Overflow("multiplication");
  u128 product = ma * mb;
  int scale = a.scale_ + b.scale_;
  if (scale > kMaxScale) {
    const u128 d = Pow10(scale - kMaxScale);
    const u128 q = product / d;
    const u128 r = product % d;
    product = q + (RoundAway(q, r, d, negative, RoundingMode::kHalfEven) ? 1 : 0);
    scale = kMaxScale;
  }
  return Decimal(Signed(product, negative), scale);
}

absl::StatusOr<Decimal> Decimal::Div(const Decimal& divisor) const {
  if (divisor.coefficient_ == 0) return absl::InvalidArgumentError("division by zero");
  const Decimal a = Normalized();
  const Decimal b = divisor.Normalized();
  const bool negative = (a.coefficient_ < 0) != (b.coefficient_ < 0);
  const u128 n = Magnitude(a.coefficient_);
  const u128 d = Magnitude(b.coefficient_);
  // value = (n / d) * 10^(b.scale - a.scale); produce `digits` fractional
  // digits of n / d so the result has scale kMaxScale.
  const int shift = b.scale_ - a.scale_;
  const int digits = kMaxScale + shift;  // 0 .. 2 * kMaxScale
  u128 q = n / d;
  u128 r = n % d;
  for (int i = 0; i < digits; ++i) {
    if (q > (kLimit - 1) / 10) return Overflow("division");
    r *= 10;
    q = q * 10 + r / d;
    r %= d;
  }
  if (q + 1 >= kLimit) return Overflow("division");
  if (RoundAway(q, r, d, negative, RoundingMode::kHalfEven)) ++q;
  return Decimal(Signed(q, negative), kMaxScale).Normalized();
}

absl::StatusOr<Decimal> Decimal::Round(int scale, RoundingMode mode) const {
  if (scale < 0 || scale > kMaxScale) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot round to ", scale, " decimal places: the range is 0..", kMaxScale));
  }
  const u128 m = Magnitude(coefficient_);
  const bool negative = coefficient_ < 0;
  if (scale >= scale_) {
    const u128 f = Pow10(scale - scale_);
    if (m > (kLimit - 1) / f) return Overflow("rounding");
    return Decimal(Signed(m * f, negative), scale);
  }
  const u128 d = Pow10(scale_ - scale);
  u128 q = m / d;
  if (RoundAway(q, m % d, d, negative, mode)) ++q;
  if (q >= kLimit) return Overflow("rounding");
  return Decimal(Signed(q, negative), scale);
}

absl::StatusOr<int64_t> Decimal::ToInt64() const {
  if (!is_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("`", ToString(), "` is not a whole number"));
  }
  const Decimal whole = Normalized();
  __int128 c = whole.coefficient_;
  for (int s = whole.scale_; s > 0; --s) c /= 10;
  if (c > INT64_MAX || c < INT64_MIN) {
    return absl::OutOfRangeError(absl::StrCat("`", ToString(), "` does not fit in 64 bits"));
  }
  return static_cast<int64_t>(c);
}

int Decimal::CompareScaled(const Decimal& a, const Decimal& b) {
  // Coefficients that fit in 64 bits can be brought to the larger scale
  // without overflow.
  if (a.coefficient_ >= INT64_MIN && a.coefficient_ <= INT64_MAX && b.coefficient_ >= INT64_MIN &&
      b.coefficient_ <= INT64_MAX) {
    const __int128 x =
        a.scale_ >= b.scale_
            ? a.coefficient_
            : a.coefficient_ * static_cast<__int128>(kPow10Table[b.scale_ - a.scale_]);
    const __int128 y =
        b.scale_ >= a.scale_
            ? b.coefficient_
            : b.coefficient_ * static_cast<__int128>(kPow10Table[a.scale_ - b.scale_]);
    return x == y ? 0 : (x < y ? -1 : 1);
  }
  const bool na = a.coefficient_ < 0;
  const bool nb = b.coefficient_ < 0;
  if (na != nb) return na ? -1 : 1;
  // Same sign: compare magnitudes, integer parts first, then fractions
  // brought to kMaxScale digits.
  const u128 ma = Magnitude(a.coefficient_);
  const u128 mb = Magnitude(b.coefficient_);
  const u128 pa = Pow10(a.scale_);
  const u128 pb = Pow10(b.scale_);
  int cmp = 0;
  const u128 ia = ma / pa;
  const u128 ib = mb / pb;
  if (ia != ib) {
    cmp = ia < ib ? -1 : 1;
  } else {
    const u128 fa = (ma % pa) * Pow10(kMaxScale - a.scale_);
    const u128 fb = (mb % pb) * Pow10(kMaxScale - b.scale_);
    cmp = fa == fb ? 0 : (fa < fb ? -1 : 1);
  }
  return na ? -cmp : cmp;
}

}  // namespace creditd::engine
