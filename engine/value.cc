#include "engine/value.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace creditd::engine {
namespace {

// Days from civil date, proleptic Gregorian (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

Decimal Value::AsDecimal() const {
  if (kind == TypeKind::kDecimal || kind == TypeKind::kMoney || kind == TypeKind::kPercent) {
    return d;
  }
  if (kind == TypeKind::kBool) return Decimal::FromInt(b ? 1 : 0);
  return Decimal::FromInt(i);
}

absl::StatusOr<int64_t> ParseDateAnyYear(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("`", text, "` is not a calendar date (YYYY-MM-DD)"));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int64_t parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (size_t k = 0; k < lengths[p]; ++k) {
      const char c = text[starts[p] + k];
      if (c < '0' || c > '9') return bad();
      parts[p] = parts[p] * 10 + (c - '0');
    }
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int64_t y = parts[0], m = parts[1], d = parts[2];
  if (m < 1 || m > 12 || d < 1) return bad();
  const int64_t max_day = kDays[m - 1] + (m == 2 && IsLeap(y) ? 1 : 0);
  if (d > max_day) return bad();
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

absl::StatusOr<int64_t> ParseDate(absl::string_view text) {
  absl::StatusOr<int64_t> days = ParseDateAnyYear(text);
  if (days.ok() && !InDateRange(*days)) {
    return absl::OutOfRangeError(absl::StrCat("`", text, "` is outside the dates ", kDateRange));
  }
  return days;
}

std::string FormatDate(int64_t days) {
  // Civil from days (Howard Hinnant's algorithm) in 128 bits, so that no day
  // count overflows.
  using i128 = __int128;
  const i128 z = static_cast<i128>(days) + 719468;
  const i128 era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const i128 y0 = static_cast<i128>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  // |days| / 365 + 1 fits in int64, and so does the year.
  const int64_t y = static_cast<int64_t>(y0 + (m <= 2 ? 1 : 0));
  return absl::StrFormat("%04d-%02d-%02d", y, m, d);
}

absl::StatusOr<Value> ParseLiteral(absl::string_view text) {
  if (text == "true") return Value::Bool(true);
  if (text == "false") return Value::Bool(false);
  if (text.size() == 10 && text[4] == '-') {
    absl::StatusOr<int64_t> days = ParseDate(text);
    if (!days.ok()) return days.status();
    return Value::Date(*days);
  }
  std::string digits = absl::StrReplaceAll(text, {{"_", ""}});
  const bool percent = !digits.empty() && digits.back() == '%';
  if (percent) digits.pop_back();
  absl::StatusOr<Decimal> number = Decimal::Parse(digits);
  if (!number.ok()) return number.status();
  if (percent) {
    absl::StatusOr<Decimal> fraction = number->Div(Decimal::FromInt(100));
    if (!fraction.ok()) return fraction.status();
    // Keep the written precision: 55% -> 0.55, 12.5% -> 0.125.
    absl::StatusOr<Decimal> scaled =
        fraction->Round(std::min(number->scale() + 2, Decimal::kMaxScale));
    if (!scaled.ok()) return scaled.status();
    return Value::Dec(TypeKind::kPercent, *scaled);
  }
  if (digits.find('.') != std::string::npos) return Value::Dec(TypeKind::kDecimal, *number);
  absl::StatusOr<int64_t> whole = number->ToInt64();
  if (!whole.ok()) return whole.status();
  return Value::Int(*whole);
}

absl::StatusOr<Value> Convert(const Value& value, TypeKind to) {
  if (value.kind == to) return value;
  const bool from_decimal = value.kind == TypeKind::kDecimal || value.kind == TypeKind::kMoney ||
                            value.kind == TypeKind::kPercent;
  const bool to_decimal =
      to == TypeKind::kDecimal || to == TypeKind::kMoney || to == TypeKind::kPercent;
  if (value.kind == TypeKind::kInt && to_decimal) {
    return Value::Dec(to, Decimal::FromInt(value.i));
  }
  if (from_decimal && to_decimal) return Value::Dec(to, value.d);
  if (from_decimal && to == TypeKind::kInt) {
    absl::StatusOr<int64_t> whole = value.d.ToInt64();
    if (!whole.ok()) return whole.status();
    return Value::Int(*whole);
  }
  return absl::FailedPreconditionError("no conversion");
}

int CompareValues(const Value& a, const Value& b) {
  if (a.kind == TypeKind::kEnumSet || b.kind == TypeKind::kEnumSet) return a.bits == b.bits ? 0 : 1;
  if (a.kind == TypeKind::kBool && b.kind == TypeKind::kBool)
    return a.b == b.b ? 0 : (a.b ? 1 : -1);
  const bool ints =
      (a.kind == TypeKind::kInt || a.kind == TypeKind::kDate || a.kind == TypeKind::kEnum) &&
      a.kind == b.kind;
  if (ints) return a.i == b.i ? 0 : (a.i < b.i ? -1 : 1);
  return Decimal::Compare(a.AsDecimal(), b.AsDecimal());
}

std::vector<std::string> SetSymbols(const Value& value, const Type& type) {
  std::vector<std::string> symbols;
  if (type.enum_type == nullptr) return symbols;
  const int n = static_cast<int>(type.enum_type->symbols.size());
  for (int k = 0; k < n && k < 64; ++k) {
    if ((value.bits >> k) & 1) symbols.push_back(type.enum_type->symbols[static_cast<size_t>(k)]);
  }
  std::sort(symbols.begin(), symbols.end());
  return symbols;
}

std::string FormatValue(const Value& value, const Type& type) {
  switch (value.kind) {
    case TypeKind::kBool:
      return value.b ? "true" : "false";
    case TypeKind::kInt:
      return absl::StrCat(value.i);
    case TypeKind::kDate:
      return FormatDate(value.i);
    case TypeKind::kEnum:
      if (type.enum_type != nullptr && value.i >= 0 &&
          value.i < static_cast<int64_t>(type.enum_type->symbols.size())) {
        return type.enum_type->symbols[static_cast<size_t>(value.i)];
      }
      return absl::StrCat("#", value.i);
    case TypeKind::kEnumSet: {
      std::string out = "{";
      bool first = true;
      for (int k = 0; k < 64; ++k) {
        if ((value.bits >> k) & 1) {
          if (!first) out += ", ";
          first = false;
          Value member = Value::Enum(k);
          out += FormatValue(member, Type::Enum(type.enum_type));
        }
      }
      return out + "}";
    }
    case TypeKind::kPercent: {
      absl::StatusOr<Decimal> hundred = value.d.Mul(Decimal::FromInt(100));
      if (hundred.ok()) return absl::StrCat(hundred->ToCanonicalString(), "%");
      return value.d.ToCanonicalString();
    }
    case TypeKind::kDecimal:
    case TypeKind::kMoney:
      return value.d.ToCanonicalString();
    case TypeKind::kError:
      break;
  }
  return "<error>";
}

}  // namespace creditd::engine
