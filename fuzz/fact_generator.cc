#include "fuzz/fact_generator.h"

#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/decimal.h"
#include "engine/domain.h"
#include "engine/value.h"

namespace creditd::fuzz {

namespace {

using engine::Decimal;
using engine::Domain;
using engine::InputSlot;
using engine::TypeKind;
using Kind = GeneratedFact::Kind;

// Text that is almost a number, or a number at the edge of what a Decimal
// (36 digits, 18 places) or an int64 holds.
constexpr const char* kNumberish[] = {
    "",
    "-",
    "+",
    ".",
    "-.",
    "1.",
    ".5",
    "+.5",
    "-0",
    "+0.055",
    "1e5",
    "1E-5",
    "0x10",
    " 1",
    "1 ",
    "1,000",
    "1_000",
    "1.5.5",
    "--1",
    "+-1",
    "55%",
    "%",
    "55%%",
    "-%",
    "-5%",
    "NaN",
    "inf",
    "-Infinity",
    "\xd9\xa1\xd9\xa2",  // Arabic-Indic digits
    "\xe2\x88\x9e",      // infinity sign
    "000000000000000000000000000000000000000000000000000001",
    "0.000000000000000001",
    "0.0000000000000000001",
    "999999999999999999999999999999999999",
    "9999999999999999999999999999999999999",
    "-999999999999999999999999999999999999",
    "999999999999999999.999999999999999999",
    "170141183460469231731687303715884105727",
    "-170141183460469231731687303715884105728",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999999999%",
    "0.000000000000000001%",
};

constexpr const char* kDateish[] = {
    "2026-02-29",     "2024-02-29",           "2000-02-29",  "1900-02-29", "0000-01-01",
    "0000-02-29",     "9999-12-31",           "10000-01-01", "1970-01-01", "1969-12-31",
    "2026-1-1",       "2026-01-01T00:00:00Z", "-001-01-01",  "2026-13-01", "2026-00-10",
    "2026-01-00",     "2026-01-32",           "2026/01/01",  "+026-01-01", "2026-01-1 ",
    "２０２６-01-01",
};

constexpr const char* kBrokenUtf8[] = {
    "\xc3\x28", "\xff\xfe", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x82", "\xf4\x90\x80\x80", "\x80",
};

constexpr int64_t kEdgeInts[] = {
    std::numeric_limits<int64_t>::min(),
    std::numeric_limits<int64_t>::max(),
    0,
    -1,
    1,
    2147483648,
    -2147483649,
    std::numeric_limits<int64_t>::min() + 1,
};

template <typename T, size_t N>
const T& Pick(const T (&items)[N], FuzzedDataProvider& data) {
  return items[data.ConsumeIntegralInRange<size_t>(0, N - 1)];
}

// The days of 0000-01-01 and 9999-12-31: the dates an ISO text can name.
int64_t FirstDay() {
  static const int64_t days = engine::ParseDate("0000-01-01").value();
  return days;
}
int64_t LastDay() {
  static const int64_t days = engine::ParseDate("9999-12-31").value();
  return days;
}

Decimal Pow10Fraction(int places) {
  return Decimal::FromParts(1, places).value_or(Decimal::FromInt(1));
}

// A value inside `domain` (nullopt when it is empty). Integral domains hold
// closed whole-number ranges; for decimals `places` picks the precision.
std::optional<Decimal> Inside(const Domain& domain, bool integral, FuzzedDataProvider& data) {
  const std::vector<Domain::Range>& ranges = domain.ranges();
  if (ranges.empty()) return std::nullopt;
  const Domain::Range& r = ranges[data.ConsumeIntegralInRange<size_t>(0, ranges.size() - 1)];
  const int places = integral ? 0 : data.ConsumeIntegralInRange<int>(0, 6);
  const Decimal step = integral ? Decimal::FromInt(1) : Pow10Fraction(places);
  auto above = [&](const Domain::Bound& b) {
    return b.closed ? b.value : b.value.Add(step).value_or(b.value);
  };
  auto below = [&](const Domain::Bound& b) {
    return b.closed ? b.value : b.value.Sub(step).value_or(b.value);
  };
  Decimal v;
  switch (data.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:  // the low end
      v = !r.low.infinite ? above(r.low) : (!r.high.infinite ? below(r.high) : Decimal());
      break;
    case 1:  // the high end
      v = !r.high.infinite ? below(r.high) : (!r.low.infinite ? above(r.low) : Decimal());
      break;
    case 2: {  // somewhere between, or past a bound by a random distance
      const int64_t k = data.ConsumeIntegralInRange<int64_t>(0, 1000);
      if (!r.low.infinite && !r.high.infinite) {
        absl::StatusOr<Decimal> span = r.high.value.Sub(r.low.value);
        absl::StatusOr<Decimal> part =
            span.ok() ? span->Mul(Decimal::FromParts(k, 3).value()) : span;
        absl::StatusOr<Decimal> sum = part.ok() ? r.low.value.Add(*part) : part;
        v = sum.ok() ? sum->Round(places, engine::RoundingMode::kFloor).value_or(*sum)
                     : r.low.value;
      } else {
        const int64_t raw = data.ConsumeIntegral<int64_t>();
        const __int128 magnitude = raw < 0 ? -static_cast<__int128>(raw) : raw;
        const Decimal offset = Decimal::FromParts(magnitude, places).value_or(Decimal());
        if (!r.low.infinite) {
          v = above(r.low).Add(offset).value_or(r.low.value);
        } else if (!r.high.infinite) {
          v = below(r.high).Sub(offset).value_or(r.high.value);
        } else {
          v = Decimal::FromParts(raw, places).value_or(Decimal());
        }
      }
      break;
    }
    default:  // a small number near zero
      v = Decimal::FromParts(data.ConsumeIntegralInRange<int64_t>(-100000, 100000), places)
              .value_or(Decimal());
  }
  if (!domain.ContainsValue(v)) {
    const std::optional<engine::Value> example = domain.Example();
    if (!example) return std::nullopt;
    v = example->AsDecimal();
  }
  return v;
}

// The kind a client sends for an input of this type.
Kind CanonicalKind(TypeKind type) {
  switch (type) {
    case TypeKind::kBool:
      return Kind::kBool;
    case TypeKind::kInt:
      return Kind::kInt;
    case TypeKind::kDate:
      return Kind::kDate;
    case TypeKind::kEnum:
      return Kind::kSymbol;
    default:
      return Kind::kDecimal;
  }
}

// A fact of `input`'s type with value `v` (a Decimal: ordinals, days, 0/1
// for bools too), in the canonical form or, with `alternate`, another form
// a client might use (an int as decimal text, "55%", a date as a symbol).
GeneratedFact FromDecimal(const InputSlot& input, const Decimal& v, bool alternate,
                          FuzzedDataProvider& data) {
  GeneratedFact f;
  f.name = input.name;
  const TypeKind type = input.type.kind;
  switch (type) {
    case TypeKind::kBool:
      f.kind = Kind::kBool;
      f.b = !v.is_zero();
      break;
    case TypeKind::kInt: {
      absl::StatusOr<int64_t> i = v.ToInt64();
      if (alternate || !i.ok()) {
        f.kind = Kind::kDecimal;
        f.text = v.ToString();
      } else {
        f.kind = Kind::kInt;
        f.i = *i;
      }
      break;
    }
    case TypeKind::kDate: {
      const int64_t days = v.ToInt64().value_or(0);
      f.kind = alternate ? Kind::kSymbol : Kind::kDate;
      f.text = engine::FormatDate(days);
      break;
    }
    case TypeKind::kEnum: {
      const std::vector<std::string>& symbols = input.type.enum_type->symbols;
      const int64_t k = v.ToInt64().value_or(0);
      f.kind = Kind::kSymbol;
      f.text =
          k >= 0 && static_cast<size_t>(k) < symbols.size() ? symbols[static_cast<size_t>(k)] : "";
      break;
    }
    default: {
      f.kind = Kind::kDecimal;
      f.text = v.ToString();
      if (!alternate) break;
      switch (data.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:
          if (absl::StatusOr<int64_t> i = v.ToInt64(); i.ok()) {
            f.kind = Kind::kInt;
            f.i = *i;
            f.text.clear();
          }
          break;
        case 1:
          if (!v.is_negative()) f.text = absl::StrCat("+", f.text);
          break;
        case 2:
          f.text = v.Round(std::min(v.scale() + 3, Decimal::kMaxScale)).value_or(v).ToString();
          break;
        default:
          if (type == TypeKind::kPercent) {
            // 0.555 as "55.5%".
            absl::StatusOr<Decimal> hundred = v.Mul(Decimal::FromInt(100));
            if (hundred.ok()) f.text = absl::StrCat(hundred->ToCanonicalString(), "%");
          }
      }
    }
  }
  return f;
}

// A value just outside the declared range, or past what the type holds.
GeneratedFact Outside(const InputSlot& input, FuzzedDataProvider& data) {
  const bool integral = !input.type.is_decimal();
  Domain outside = input.range.Complement();
  if (input.type.kind == TypeKind::kDate) {
    // Past the dates ISO text can name, or outside the declared range.
    const Domain calendar = Domain::Between(input.type, engine::Value::Date(FirstDay()), true,
                                            engine::Value::Date(LastDay()), true);
    if (data.ConsumeBool()) outside = outside.Intersect(calendar);
  }
  std::optional<Decimal> v = Inside(outside, integral, data);
  if (!v) {
    // Nothing outside (a bool, an enum, a type's full range): an enum
    // symbol past the last, or the widest value there is.
    v = input.type.kind == TypeKind::kEnum
            ? Decimal::FromInt(static_cast<int64_t>(input.type.enum_type->symbols.size()))
            : Decimal::FromParts(std::numeric_limits<int64_t>::max(), 0).value();
  }
  return FromDecimal(input, *v, data.ConsumeBool(), data);
}

// A value at the edge of what the type holds: int64's limits, 36-digit and
// 18-place decimals, the first and last ISO dates.
GeneratedFact Edge(const InputSlot& input, FuzzedDataProvider& data) {
  GeneratedFact f;
  f.name = input.name;
  f.kind = CanonicalKind(input.type.kind);
  switch (f.kind) {
    case Kind::kBool:
      f.b = data.ConsumeBool();
      break;
    case Kind::kInt:
      f.i = Pick(kEdgeInts, data);
      break;
    case Kind::kDate:
      f.text = Pick(kDateish, data);
      break;
    case Kind::kSymbol: {
      const std::vector<std::string>& symbols = input.type.enum_type->symbols;
      if (!symbols.empty()) f.text = data.ConsumeBool() ? symbols.front() : symbols.back();
      break;
    }
    default:
      f.text = Pick(kNumberish, data);
  }
  return f;
}

// A fact of a kind the input does not take, or of its kind with text
// that is not a value of it.
GeneratedFact WrongKind(const InputSlot& input, FuzzedDataProvider& data, bool same_kind) {
  GeneratedFact f;
  f.name = input.name;
  const Kind canonical = CanonicalKind(input.type.kind);
  f.kind = same_kind ? canonical
                     : static_cast<Kind>(data.ConsumeIntegralInRange<int>(
                           static_cast<int>(Kind::kBool), static_cast<int>(Kind::kDate)));
  if (!same_kind && f.kind == canonical)
    f.kind = canonical == Kind::kBool ? Kind::kInt : Kind::kBool;
  switch (f.kind) {
    case Kind::kBool:
      f.b = data.ConsumeBool();
      break;
    case Kind::kInt:
      f.i = data.ConsumeIntegral<int64_t>();
      break;
    default:
      // Sometimes a perfectly good value of another type ("true", "A").
      if (!same_kind && data.ConsumeBool() && input.type.kind == TypeKind::kEnum &&
          !input.type.enum_type->symbols.empty()) {
        f.text = input.type.enum_type->symbols.front();
      } else {
        f.text = HostileText(data);
      }
  }
  return f;
}

GeneratedFact InRange(const InputSlot& input, bool alternate, FuzzedDataProvider& data) {
  const bool integral = !input.type.is_decimal();
  Domain domain = input.range;
  if (input.type.kind == TypeKind::kDate) {
    domain = domain.Intersect(Domain::Between(input.type, engine::Value::Date(FirstDay()), true,
                                              engine::Value::Date(LastDay()), true));
  }
  if (input.type.kind == TypeKind::kInt) {
    domain = domain.Intersect(
        Domain::Between(input.type, engine::Value::Int(std::numeric_limits<int64_t>::min()), true,
                        engine::Value::Int(std::numeric_limits<int64_t>::max()), true));
  }
  std::optional<Decimal> v = Inside(domain, integral, data);
  if (!v) return Edge(input, data);  // an empty range: nothing is inside
  return FromDecimal(input, *v, alternate, data);
}

// A name a caller might send that is not an input, or almost one.
std::string OtherName(const engine::CompiledPolicy& policy, FuzzedDataProvider& data) {
  const std::vector<InputSlot>& inputs = policy.inputs();
  const std::string& near =
      inputs.empty() ? std::string("x")
                     : inputs[data.ConsumeIntegralInRange<size_t>(0, inputs.size() - 1)].name;
  switch (data.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      return absl::StrCat(near, std::string(1, '\0'));
    case 1:
      return absl::StrCat(near, " ");
    case 2: {
      std::string upper = near;
      if (!upper.empty()) upper[0] = static_cast<char>(upper[0] & ~0x20);
      return upper;
    }
    case 3:
      return absl::StrCat(near, "\t", near);  // a tab and a newline in a name
    case 4:
      return absl::StrCat(near, "\n");
    default:
      return HostileText(data);
  }
}

// Digits with an optional sign and fraction: `-12`, `+0.50`.
bool PlainDecimal(absl::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t digits = i;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == digits) return false;
  if (i == text.size()) return true;
  if (text[i] != '.') return false;
  const size_t fraction = ++i;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  return i == text.size() && i > fraction;
}

// What validation must say about one value for `input` (see Judge), under
// the strict fact rules.
Verdict JudgeValue(const InputSlot& input, const GeneratedFact& f) {
  const TypeKind type = input.type.kind;
  // The value as a Decimal (ordinals, days and whole numbers too), for the
  // range check.
  Decimal value;
  switch (type) {
    case TypeKind::kBool:
      if (f.kind != Kind::kBool) return Verdict::kInvalid;
      value = Decimal::FromInt(f.b ? 1 : 0);
      break;
    case TypeKind::kInt:
      // Strict rules: a whole number comes as int_value only.
      if (f.kind != Kind::kInt) return Verdict::kInvalid;
      value = Decimal::FromInt(f.i);
      break;
    case TypeKind::kDate: {
      if (f.kind == Kind::kSymbol) return Verdict::kUnknown;
      if (f.kind != Kind::kDate) return Verdict::kInvalid;
      absl::StatusOr<int64_t> days = engine::ParseDate(f.text);
      if (!days.ok()) return Verdict::kInvalid;
      value = Decimal::FromInt(*days);
      break;
    }
    case TypeKind::kEnum: {
      if (f.kind != Kind::kSymbol) return Verdict::kInvalid;
      const int ordinal = input.type.enum_type->Find(f.text);
      if (ordinal < 0) return Verdict::kInvalid;
      value = Decimal::FromInt(ordinal);
      break;
    }
    case TypeKind::kDecimal:
    case TypeKind::kMoney:
    case TypeKind::kPercent: {
      if (f.kind == Kind::kInt) {
        // An int keeps its meaning for money and decimals; for a percent 1
        // would mean 100%, so it is refused.
        if (type == TypeKind::kPercent) return Verdict::kInvalid;
        value = Decimal::FromInt(f.i);
        break;
      }
      if (f.kind != Kind::kDecimal) return Verdict::kInvalid;
      absl::string_view text = f.text;
      // A percent may be written "55%": 0.55.
      const bool percent = type == TypeKind::kPercent && !text.empty() && text.back() == '%';
      if (percent) text.remove_suffix(1);
      if (!PlainDecimal(text)) return Verdict::kUnknown;  // the contract names only these
      absl::StatusOr<Decimal> d = Decimal::Parse(text);
      if (!d.ok()) return Verdict::kInvalid;
      // Places as written, trailing zeros not counted; a percent written
      // with `%` has two more as a fraction.
      int places = d->scale();
      __int128 coefficient = d->coefficient();
      while (places > 0 && coefficient % 10 == 0) {
        coefficient /= 10;
        --places;
      }
      if (places + (percent ? 2 : 0) > input.places) return Verdict::kInvalid;
      if (percent) {
        if (d->scale() + 2 > Decimal::kMaxScale) return Verdict::kUnknown;  // rounded
        d = Decimal::FromParts(d->coefficient(), d->scale() + 2);
        if (!d.ok()) return Verdict::kUnknown;
      }
      value = *d;
      break;
    }
    default:
      return Verdict::kUnknown;  // sets: the contract says nothing
  }
  if (input.has_range && !input.range.ContainsValue(value)) return Verdict::kInvalid;
  return Verdict::kValid;
}

}  // namespace

Verdict Judge(const engine::CompiledPolicy& policy, const std::vector<GeneratedFact>& facts) {
  const std::vector<InputSlot>& inputs = policy.inputs();
  std::vector<int> given(inputs.size(), 0);
  bool unknown = false;
  for (const GeneratedFact& f : facts) {
    const int index = policy.FindInput(f.name);
    if (index < 0) return Verdict::kInvalid;
    if (f.kind == Kind::kNone) continue;  // left out: missing unless given again
    if (++given[static_cast<size_t>(index)] > 1) return Verdict::kInvalid;
    const Verdict v = JudgeValue(inputs[static_cast<size_t>(index)], f);
    if (v == Verdict::kInvalid) return v;
    unknown = unknown || v == Verdict::kUnknown;
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (given[k] == 0 && !inputs[k].default_value && !inputs[k].optional) return Verdict::kInvalid;
  }
  return unknown ? Verdict::kUnknown : Verdict::kValid;
}

engine::Facts ToEngineFacts(const engine::CompiledPolicy& policy,
                            const std::vector<GeneratedFact>& facts) {
  engine::Facts out;
  for (const GeneratedFact& f : facts) {
    switch (f.kind) {
      case Kind::kNone:
        if (policy.FindInput(f.name) < 0) out.Add(f.name, engine::FactValue::Symbol(""));
        break;
      case Kind::kBool:
        out.Add(f.name, engine::FactValue::Bool(f.b));
        break;
      case Kind::kInt:
        out.Add(f.name, engine::FactValue::Int(f.i));
        break;
      case Kind::kDecimal:
        out.Add(f.name, engine::FactValue::Decimal(f.text));
        break;
      case Kind::kSymbol:
        out.Add(f.name, engine::FactValue::Symbol(f.text));
        break;
      case Kind::kDate:
        out.Add(f.name, engine::FactValue::Date(f.text));
        break;
    }
  }
  return out;
}

std::string HostileText(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return data.ConsumeRandomLengthString(256);
    case 1: {
      // Huge: up to 256 KiB of one pattern, far past any bound on what is
      // echoed back.
      static constexpr size_t kSizes[] = {1 << 10, (1 << 16) + 1, 1 << 18};
      static constexpr const char* kPatterns[] = {"9", "0", "a", "\xff", "\xc3\xa9", "\0"};
      const size_t size = Pick(kSizes, data);
      const char* pattern = Pick(kPatterns, data);
      // Doubled up to the size: 256 KiB in eighteen copies.
      std::string text(pattern, std::max<size_t>(1, std::strlen(pattern)));
      while (text.size() * 2 <= size) text += text;
      if (data.ConsumeBool()) text.insert(0, "1.");
      return text;
    }
    case 2: {
      std::string text = Pick(kNumberish, data);
      text.insert(data.ConsumeIntegralInRange<size_t>(0, text.size()), 1, '\0');
      return text;
    }
    case 3:
      return absl::StrCat(data.ConsumeBool() ? "12" : "", Pick(kBrokenUtf8, data));
    case 4:
      return Pick(kNumberish, data);
    case 5:
      return Pick(kDateish, data);
    case 6:
      return absl::StrCat(Pick(kNumberish, data), Pick(kDateish, data));
    default:
      return "\"},{\\u0000\n\t`";  // quotes, escapes and backticks
  }
}

bool IsUtf8(const std::string& text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::vector<GeneratedFact> GenerateFacts(const engine::CompiledPolicy& policy,
                                         FuzzedDataProvider& data) {
  std::vector<GeneratedFact> out;
  for (const InputSlot& input : policy.inputs()) {
    switch (data.ConsumeIntegralInRange<int>(0, 11)) {
      case 0:
      case 1:
      case 2:
        out.push_back(InRange(input, false, data));
        break;
      case 3:
        out.push_back(InRange(input, true, data));
        break;
      case 4:
        out.push_back(Outside(input, data));
        break;
      case 5:
        out.push_back(Edge(input, data));
        break;
      case 6:
        out.push_back(WrongKind(input, data, false));
        break;
      case 7:
        out.push_back(WrongKind(input, data, true));
        break;
      case 8:
        break;  // missing
      case 9: {
        GeneratedFact f;
        f.name = input.name;
        out.push_back(f);  // present without a value
        break;
      }
      case 10:
        out.push_back(InRange(input, false, data));
        out.push_back(data.ConsumeBool() ? InRange(input, false, data)
                                         : WrongKind(input, data, false));
        break;
      default:
        // An input sent under the name of another: the right name, a
        // value meant for some other input.
        if (!policy.inputs().empty()) {
          const InputSlot& other =
              policy.inputs()[data.ConsumeIntegralInRange<size_t>(0, policy.inputs().size() - 1)];
          GeneratedFact f = InRange(other, data.ConsumeBool(), data);
          f.name = input.name;
          out.push_back(f);
        }
    }
  }
  // Facts the policy does not know, or a flood of them.
  switch (data.ConsumeIntegralInRange<int>(0, 7)) {
    case 1:
    case 2: {
      GeneratedFact f =
          InRange(policy.inputs().empty() ? InputSlot() : policy.inputs().front(), false, data);
      f.name = OtherName(policy, data);
      out.push_back(f);
      break;
    }
    case 3: {
      // Enough that every problem listed makes a message of tens of
      // kilobytes; more only slows the fuzzer.
      const int n = data.ConsumeIntegralInRange<int>(0, 800);
      for (int k = 0; k < n; ++k) {
        GeneratedFact f;
        f.name = absl::StrCat("unknown_", k);
        f.kind = Kind::kBool;
        out.push_back(f);
      }
      break;
    }
    default:
      break;
  }
  // Shuffle a little: facts arrive in any order.
  if (out.size() > 1 && data.ConsumeBool()) {
    const size_t a = data.ConsumeIntegralInRange<size_t>(0, out.size() - 1);
    const size_t b = data.ConsumeIntegralInRange<size_t>(0, out.size() - 1);
    std::swap(out[a], out[b]);
  }
  return out;
}

}  // namespace creditd::fuzz
