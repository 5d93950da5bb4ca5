#include "engine/domain.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace creditd::engine {
namespace {

// Order of lower bounds: -inf first; at equal values, closed before open.
bool LowLess(const Domain::Bound& a, const Domain::Bound& b) {
  if (a.infinite || b.infinite) return a.infinite && !b.infinite;
  const int c = Decimal::Compare(a.value, b.value);
  if (c != 0) return c < 0;
  return a.closed && !b.closed;
}

// Is range [low, high] non-empty?
bool NonEmpty(const Domain::Bound& low, const Domain::Bound& high) {
  if (low.infinite || high.infinite) return true;
  const int c = Decimal::Compare(low.value, high.value);
  return c < 0 || (c == 0 && low.closed && high.closed);
}

// Does the range ending at `high` touch or overlap the one starting at `low`?
bool Touches(const Domain::Bound& high, const Domain::Bound& low) {
  if (high.infinite || low.infinite) return true;
  const int c = Decimal::Compare(high.value, low.value);
  return c > 0 || (c == 0 && (high.closed || low.closed));
}

// The smaller (for highs: the lower) of two upper bounds.
Domain::Bound MinHigh(const Domain::Bound& a, const Domain::Bound& b) {
  if (a.infinite) return b;
  if (b.infinite) return a;
  const int c = Decimal::Compare(a.value, b.value);
  if (c != 0) return c < 0 ? a : b;
  return a.closed ? b : a;
}

Domain::Bound MaxHigh(const Domain::Bound& a, const Domain::Bound& b) {
  if (a.infinite) return a;
  if (b.infinite) return b;
  const int c = Decimal::Compare(a.value, b.value);
  if (c != 0) return c > 0 ? a : b;
  return a.closed ? a : b;
}

// Does a range ending at `a` end no later than one ending at `b`?
bool EndsNoLater(const Domain::Bound& a, const Domain::Bound& b) {
  if (a.infinite) return b.infinite;
  if (b.infinite) return true;
  const int c = Decimal::Compare(a.value, b.value);
  if (c != 0) return c < 0;
  return !a.closed || b.closed;
}

Domain::Bound MaxLow(const Domain::Bound& a, const Domain::Bound& b) {
  return LowLess(a, b) ? b : a;
}

Domain::Bound Finite(const Decimal& value, bool closed) { return {false, closed, value}; }

Decimal Floor(const Decimal& d) { return d.Round(0, RoundingMode::kFloor).value_or(d); }
Decimal Ceil(const Decimal& d) { return d.Round(0, RoundingMode::kCeiling).value_or(d); }
Decimal Plus(const Decimal& d, int64_t k) { return d.Add(Decimal::FromInt(k)).value_or(d); }

}  // namespace

bool Domain::integral() const {
  return type_.kind == TypeKind::kInt || type_.kind == TypeKind::kDate ||
         type_.kind == TypeKind::kEnum || type_.kind == TypeKind::kBool;
}

Domain Domain::Empty(const Type& type) {
  Domain d;
  d.type_ = type;
  return d;
}

Domain Domain::Full(const Type& type) {
  Domain d = Empty(type);
  Range all;
  if (type.kind == TypeKind::kBool) {
    all.low = Finite(Decimal::FromInt(0), true);
    all.high = Finite(Decimal::FromInt(1), true);
  } else if (type.kind == TypeKind::kEnum) {
    const int n = type.enum_type != nullptr ? static_cast<int>(type.enum_type->symbols.size()) : 0;
    if (n == 0) return d;
    all.low = Finite(Decimal::FromInt(0), true);
    all.high = Finite(Decimal::FromInt(n - 1), true);
  } else if (type.kind == TypeKind::kDate) {
    all.low = Finite(Decimal::FromInt(kMinDate), true);
    all.high = Finite(Decimal::FromInt(kMaxDate), true);
  }
  d.ranges_.push_back(all);
  return d;
}

Domain Domain::Point(const Type& type, const Value& value) {
  Domain d = Empty(type);
  const Decimal v = value.AsDecimal();
  d.ranges_.push_back({Finite(v, true), Finite(v, true)});
  d.Normalize();
  return d.Intersect(Full(type));
}

Domain Domain::Points(const Type& type, const std::vector<Value>& values) {
  Domain d = Empty(type);
  d.ranges_.reserve(values.size());
  for (const Value& value : values) {
    const Decimal v = value.AsDecimal();
    d.ranges_.push_back({Finite(v, true), Finite(v, true)});
  }
  d.Normalize();  // sorts once
  return d.Intersect(Full(type));
}

Domain Domain::Between(const Type& type, const Value& low, bool low_closed, const Value& high,
                       bool high_closed) {
  Domain d = Empty(type);
  d.ranges_.push_back({Finite(low.AsDecimal(), low_closed), Finite(high.AsDecimal(), high_closed)});
  d.Normalize();
  return d.Intersect(Full(type));
}

Domain Domain::Compare(const Type& type, const char* op, const Value& bound) {
  Domain d = Empty(type);
  const Decimal v = bound.AsDecimal();
  Range r;
  if (std::strcmp(op, "<") == 0 || std::strcmp(op, "<=") == 0) {
    r.high = Finite(v, op[1] == '=');
  } else if (std::strcmp(op, ">") == 0 || std::strcmp(op, ">=") == 0) {
    r.low = Finite(v, op[1] == '=');
  } else if (std::strcmp(op, "!=") == 0) {
    return Point(type, bound).Complement();
  } else {
    return Point(type, bound);
  }
  d.ranges_.push_back(r);
  d.Normalize();
  return d.Intersect(Full(type));
}

void Domain::Normalize() {
  std::vector<Range> kept;
  for (Range r : ranges_) {
    if (integral()) {
      // Whole numbers only: make both bounds closed integers.
      if (!r.low.infinite) {
        Decimal v = r.low.closed ? Ceil(r.low.value) : Plus(Floor(r.low.value), 1);
        r.low = Finite(v, true);
      }
      if (!r.high.infinite) {
        Decimal v = r.high.closed ? Floor(r.high.value) : Plus(Ceil(r.high.value), -1);
        r.high = Finite(v, true);
      }
    }
    if (NonEmpty(r.low, r.high)) kept.push_back(r);
  }
  std::sort(kept.begin(), kept.end(),
            [](const Range& a, const Range& b) { return LowLess(a.low, b.low); });
  std::vector<Range> merged;
  for (const Range& r : kept) {
    bool joins = false;
    if (!merged.empty()) {
      const Bound& high = merged.back().high;
      joins = Touches(high, r.low);
      // Adjacent whole numbers join too: [0, 3] and [4, 9].
      if (!joins && integral() && !high.infinite && !r.low.infinite) {
        joins = Decimal::Compare(Plus(high.value, 1), r.low.value) == 0;
      }
    }
    if (joins) {
      merged.back().high = MaxHigh(merged.back().high, r.high);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

Domain Domain::Intersect(const Domain& other) const {
  // Both are sorted and disjoint: one pass over each, always moving on from
  // the range that ends first.
  Domain d = Empty(type_);
  size_t i = 0;
  size_t j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    const Range& a = ranges_[i];
    const Range& b = other.ranges_[j];
    Range r{MaxLow(a.low, b.low), MinHigh(a.high, b.high)};
    if (NonEmpty(r.low, r.high)) d.ranges_.push_back(r);
    if (EndsNoLater(a.high, b.high)) {
      ++i;
    } else {
      ++j;
    }
  }
  d.Normalize();
  return d;
}

bool Domain::Overlaps(const Domain& other) const {
  size_t i = 0;
  size_t j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    const Range& a = ranges_[i];
    const Range& b = other.ranges_[j];
    if (NonEmpty(MaxLow(a.low, b.low), MinHigh(a.high, b.high))) return true;
    if (EndsNoLater(a.high, b.high)) {
      ++i;
    } else {
      ++j;
    }
  }
  return false;
}

Domain Domain::Union(const Domain& other) const {
  Domain d = *this;
  d.ranges_.insert(d.ranges_.end(), other.ranges_.begin(), other.ranges_.end());
  d.Normalize();
  return d;
}

Domain Domain::Complement() const {
  // Gaps between the ranges, within the type's full domain.
  Domain d = Empty(type_);
  Bound low;  // -inf
  for (const Range& r : ranges_) {
    if (!r.low.infinite) {
      Bound high = Finite(r.low.value, !r.low.closed);
      if (NonEmpty(low, high)) d.ranges_.push_back({low, high});
    }
    if (r.high.infinite) {  // nothing above this range
      d.Normalize();
      return d.Intersect(Full(type_));
    }
    low = Finite(r.high.value, !r.high.closed);
  }
  d.ranges_.push_back({low, Bound()});
  d.Normalize();
  return d.Intersect(Full(type_));
}

Domain Domain::Minus(const Domain& other) const { return Intersect(other.Complement()); }

bool Domain::ContainsValue(const Decimal& v) const {
  for (const Range& r : ranges_) {
    bool above = r.low.infinite;
    if (!above) {
      const int c = Decimal::Compare(v, r.low.value);
      above = c > 0 || (c == 0 && r.low.closed);
    }
    bool below = r.high.infinite;
    if (!below) {
      const int c = Decimal::Compare(v, r.high.value);
      below = c < 0 || (c == 0 && r.high.closed);
    }
    if (above && below) return true;
  }
  return false;
}

std::optional<Value> Domain::Example() const {
  if (ranges_.empty()) return std::nullopt;
  const Range& r = ranges_.front();
  Decimal v;
  if (!r.low.infinite && r.low.closed) {
    v = r.low.value;
  } else if (!r.low.infinite && !r.high.infinite) {
    // Open low bound: the midpoint, or a point just above for tiny ranges.
    v = r.low.value.Add(r.high.value)
            .value_or(r.low.value)
            .Div(Decimal::FromInt(2))
            .value_or(r.low.value);
  } else if (!r.low.infinite) {
    v = Plus(r.low.value, 1);
  } else if (!r.high.infinite) {
    v = r.high.closed ? r.high.value : Plus(r.high.value, -1);
  } else {
    v = Decimal::FromInt(0);
  }
  return ValueAt(v);
}

std::optional<Value> Domain::ValueAt(const Decimal& point) const {
  switch (type_.kind) {
    case TypeKind::kBool:
      return Value::Bool(!point.is_zero());
    case TypeKind::kInt:
    case TypeKind::kDate:
    case TypeKind::kEnum: {
      absl::StatusOr<int64_t> whole = point.ToInt64();
      if (!whole.ok()) return std::nullopt;
      if (type_.kind == TypeKind::kInt) return Value::Int(*whole);
      if (type_.kind == TypeKind::kDate) return Value::Date(*whole);
      if (*whole < 0 || *whole > std::numeric_limits<int>::max()) return std::nullopt;
      return Value::Enum(static_cast<int>(*whole));
    }
    default:
      return Value::Dec(type_.kind, point);
  }
}

std::string Domain::ToString() const {
  if (ranges_.empty()) return "{}";
  auto show = [&](const Decimal& d) {
    Value v;
    v.kind = type_.kind;
    if (type_.is_decimal()) {
      v.d = d;
    } else if (type_.kind == TypeKind::kBool) {
      v.b = !d.is_zero();
    } else {
      v.i = d.ToInt64().value_or(0);
    }
    return FormatValue(v, type_);
  };
  if (type_.kind == TypeKind::kEnum || type_.kind == TypeKind::kBool) {
    std::vector<std::string> symbols;
    for (const Range& r : ranges_) {
      const int64_t lo = r.low.value.ToInt64().value_or(0);
      const int64_t hi = r.high.value.ToInt64().value_or(0);
      for (int64_t k = lo; k <= hi; ++k) symbols.push_back(show(Decimal::FromInt(k)));
    }
    return absl::StrCat("{", absl::StrJoin(symbols, ", "), "}");
  }
  std::vector<std::string> parts;
  for (const Range& r : ranges_) {
    if (r.low.infinite && r.high.infinite) {
      parts.push_back("any");
    } else if (r.low.infinite) {
      parts.push_back(absl::StrCat(r.high.closed ? "<= " : "< ", show(r.high.value)));
    } else if (r.high.infinite) {
      parts.push_back(absl::StrCat(r.low.closed ? ">= " : "> ", show(r.low.value)));
    } else if (Decimal::Compare(r.low.value, r.high.value) == 0) {
      parts.push_back(show(r.low.value));
    } else {
      parts.push_back(absl::StrCat(r.low.closed ? "[" : "(", show(r.low.value), ", ",
                                   show(r.high.value), r.high.closed ? "]" : ")"));
    }
  }
  return absl::StrJoin(parts, " or ");
}

}  // namespace creditd::engine
