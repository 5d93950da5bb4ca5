#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/decimal.h"
#include "engine/types.h"
#include "engine/value.h"

namespace creditd::engine {

// A set of values of one ordered type, as sorted disjoint ranges of Decimals.
// Ints, dates, enum ordinals and bools (0, 1) are integral: their ranges hold
// only whole numbers and are kept closed. The static analysis (gaps,
// overlaps, unreachable rows, dead rules) is set algebra over Domains.
class Domain {
 public:
  struct Bound {
    bool infinite = true;
    bool closed = false;
    Decimal value;
  };
  struct Range {
    Bound low;
    Bound high;
  };

  // Everything of type `type` (an enum: every symbol; bool: true and false;
  // a date: kMinDate..kMaxDate).
  static Domain Full(const Type& type);
  static Domain Empty(const Type& type);
  // The values `op bound` (op one of < <= > >= = !=).
  static Domain Compare(const Type& type, const char* op, const Value& bound);
  // [low, high], (low, high), ...
  static Domain Between(const Type& type, const Value& low, bool low_closed, const Value& high,
                        bool high_closed);
  static Domain Point(const Type& type, const Value& value);
  // Any of `values` (as the Union of their Points, sorted once).
  static Domain Points(const Type& type, const std::vector<Value>& values);

  bool empty() const { return ranges_.empty(); }
  const Type& type() const { return type_; }
  // The set operations take time linear in the ranges of both sides (and a
  // sort of the result's).
  Domain Intersect(const Domain& other) const;
  // Is the intersection non-empty? (Without making it.)
  bool Overlaps(const Domain& other) const;
  Domain Union(const Domain& other) const;
  Domain Minus(const Domain& other) const;
  Domain Complement() const;
  bool Contains(const Domain& other) const { return other.Minus(*this).empty(); }
  // Is the single value `v` (as a Decimal: ordinals, days and bools too) in it?
  bool ContainsValue(const Decimal& v) const;
  // The finite bounds of the ranges, in order (for building lookups).
  const std::vector<Range>& ranges() const { return ranges_; }

  // A value in the domain a person would pick as an example (a bound, a
  // midpoint, a whole number); nullopt when empty.
  std::optional<Value> Example() const;
  // The value of this domain's type at `point` (a bound of one of its
  // ranges: an int, a day number, an ordinal, or a decimal); nullopt when
  // the type cannot hold it.
  std::optional<Value> ValueAt(const Decimal& point) const;
  // The domain in policy syntax: "[0, 200]", ">= 0", "{A, B}".
  std::string ToString() const;

 private:
  void Normalize();
  bool integral() const;

  Type type_;
  std::vector<Range> ranges_;
};

}  // namespace creditd::engine
