#include "engine/evaluator.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/value.h"

namespace creditd::engine {

using program::Cmp;
using program::Instr;
using program::OpCode;
using program::Slot;

const PolicyId& Decision::policy_id() const {
  static const PolicyId kNone;
  return policy != nullptr ? policy->id() : kNone;
}

const OutputValue* Decision::Output(absl::string_view name) const {
  for (const OutputValue& o : outputs) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

namespace {

// Per-thread evaluation memory, grown to the largest policy seen and reused.
struct Scratch {
  uint64_t generation = 0;  // the program whose constants the frame holds
  std::vector<Slot> frame;
  std::vector<uint64_t> masks;
  std::vector<uint8_t> seen;
  std::vector<int> order;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// The input's type as the policy declares it: "money(0)", "int", "Grade".
std::string InputTypeName(const InputSlot& input) {
  if (input.type.kind == TypeKind::kMoney && input.places != DefaultPlaces(TypeKind::kMoney)) {
    return absl::StrCat("money(", input.places, ")");
  }
  return TypeName(input.type);
}

std::string TypeHint(const InputSlot& input) {
  const Type& type = input.type;
  switch (type.kind) {
    case TypeKind::kBool:
      return "true or false";
    case TypeKind::kInt:
      return "a whole number";
    case TypeKind::kDecimal:
      return "a decimal such as \"1.5\"";
    case TypeKind::kMoney:
      return absl::StrCat("an amount such as \"1250000", input.places > 0 ? "." : "",
                          std::string(static_cast<size_t>(std::max(input.places, 0)), '0'), "\"");
    case TypeKind::kPercent:
      return "a fraction such as \"0.55\" or \"55%\"";
    case TypeKind::kDate:
      return "a date such as \"2026-11-22\"";
    case TypeKind::kEnum:
      return absl::StrCat("one of ", absl::StrJoin(type.enum_type->symbols, ", "));
    default:
      return TypeName(type);
  }
}

// The decimal places `text` is written with ("12.50": 1), trailing zeros not
// counted; -1 when it is not digits with an optional sign and fraction.
int64_t WrittenPlaces(absl::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t digits = i;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == digits) return -1;
  if (i == text.size()) return 0;
  if (text[i] != '.') return -1;
  const size_t fraction = ++i;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i != text.size() || i == fraction) return -1;
  size_t end = text.size();
  while (end > fraction && text[end - 1] == '0') --end;
  return static_cast<int64_t>(end - fraction);
}

// "`800000.001` has 3 decimal places; money takes at most 2".
std::string PlacesProblem(const InputSlot& input, absl::string_view text, int64_t places,
                          bool percent_sign) {
  std::string out =
      absl::StrCat("`", EchoText(text), "` has ", places, " decimal place", places == 1 ? "" : "s",
                   percent_sign ? " as a fraction" : "", "; ", InputTypeName(input));
  if (input.places == 0) {
    absl::StrAppend(&out, " takes whole amounts only");
  } else {
    absl::StrAppend(&out, " takes at most ", input.places);
  }
  if (input.type.kind == TypeKind::kPercent) absl::StrAppend(&out, " (hundredths of a percent)");
  return out;
}

// `d` with at least `scale` places, padded with zeros: comparisons of values
// at one scale compare coefficients directly. Padding is exact; a value with
// too many digits to pad stays at its own scale, which is the same value.
Decimal Padded(const Decimal& d, int scale) {
  if (scale <= d.scale()) return d;
  absl::StatusOr<Decimal> padded = d.Round(scale);
  return padded.ok() ? *padded : d;
}

// Converts one fact to its slot under `rules`; a problem description on
// failure.
bool ToSlot(const InputSlot& input, const FactValue& fact, FactRules rules, Slot* slot,
            std::string* problem) {
  const Type& type = input.type;
  const bool strict = rules == FactRules::kStrict;
  auto wrong = [&] {
    *problem = absl::StrCat("expected ", InputTypeName(input), " (", TypeHint(input), ")");
    return false;
  };
  switch (type.kind) {
    case TypeKind::kBool:
      if (fact.kind != FactValue::Kind::kBool) return wrong();
      slot->i = fact.b ? 1 : 0;
      return true;
    case TypeKind::kInt:
      if (fact.kind == FactValue::Kind::kInt) {
        slot->i = fact.i;
        return true;
      }
      if (!strict && fact.kind == FactValue::Kind::kDecimal) {
        absl::StatusOr<Decimal> d = Decimal::Parse(fact.text);
        absl::StatusOr<int64_t> whole = d.ok() ? d->ToInt64() : absl::StatusOr<int64_t>(d.status());
        if (!whole.ok()) {
          *problem = absl::StrCat("`", EchoText(fact.text), "` is not a whole number");
          return false;
        }
        slot->i = *whole;
        return true;
      }
      return wrong();
    case TypeKind::kDecimal:
    case TypeKind::kMoney:
    case TypeKind::kPercent: {
      const int canonical = CanonicalScale(type.kind);
      if (fact.kind == FactValue::Kind::kInt) {
        // 1 for a percent would be 100%: a fraction must be written as one.
        if (strict && type.kind == TypeKind::kPercent) return wrong();
        slot->d = Padded(Decimal::FromInt(fact.i), canonical);
        return true;
      }
      if (fact.kind != FactValue::Kind::kDecimal) return wrong();
      absl::string_view text = fact.text;
      const bool percent_sign =
          type.kind == TypeKind::kPercent && !text.empty() && text.back() == '%';
      if (percent_sign) text.remove_suffix(1);
      if (strict) {
        // Counted on the text, before any rounding could hide a place.
        const int64_t written = WrittenPlaces(text);
        const int64_t places = written + (percent_sign ? 2 : 0);
        if (written >= 0 && places > input.places) {
          *problem = PlacesProblem(input, fact.text, places, percent_sign);
          return false;
        }
      }
      // Without its trailing zeros: the same value, with the smallest
      // coefficient (so the least room for overflow) under both rules, so
      // that a decision made under one replays alike under the other. Strict
      // leaves at most input.places (<= 18), so a percent shifts exactly.
      absl::StatusOr<Decimal> d = Decimal::Parse(text);
      if (d.ok()) d = d->Normalized();
      if (d.ok() && percent_sign) {
        // "55.5%" is 0.555: the same digits, two more decimal places.
        d = d->scale() + 2 <= Decimal::kMaxScale
                ? Decimal::FromParts(d->coefficient(), d->scale() + 2)
                : d->Div(Decimal::FromInt(100));
      }
      if (!d.ok()) {
        *problem = absl::StrCat("`", EchoText(fact.text), "` is not ", TypeHint(input));
        return false;
      }
      slot->d = Padded(*d, canonical);
      return true;
    }
    case TypeKind::kDate: {
      if (fact.kind != FactValue::Kind::kDate && fact.kind != FactValue::Kind::kSymbol)
        return wrong();
      absl::StatusOr<int64_t> days = strict ? ParseDate(fact.text) : ParseDateAnyYear(fact.text);
      if (!days.ok()) {
        *problem = absl::StrCat("`", EchoText(fact.text), "` ",
                                days.status().code() == absl::StatusCode::kOutOfRange
                                    ? absl::StrCat("is outside the dates ", kDateRange)
                                    : "is not a calendar date (YYYY-MM-DD)");
        return false;
      }
      slot->i = *days;
      return true;
    }
    case TypeKind::kEnum: {
      if (fact.kind != FactValue::Kind::kSymbol) return wrong();
      const std::vector<std::string>& symbols = type.enum_type->symbols;
      for (size_t k = 0; k < symbols.size(); ++k) {
        if (symbols[k] == fact.text) {
          slot->i = static_cast<int64_t>(k);
          return true;
        }
      }
      *problem = absl::StrCat("`", EchoText(fact.text), "` is not ", TypeHint(input));
      return false;
    }
    default:
      return wrong();
  }
}

bool InRange(const InputSlot& input, const Slot& slot, std::string* problem) {
  if (!input.has_range) return true;
  if (input.simple_range) {
    bool inside = true;
    if (input.type.is_decimal()) {
      if (input.has_low) {
        const int c = Decimal::Compare(slot.d, input.low.d);
        inside = input.low_closed ? c >= 0 : c > 0;
      }
      if (inside && input.has_high) {
        const int c = Decimal::Compare(slot.d, input.high.d);
        inside = input.high_closed ? c <= 0 : c < 0;
      }
    } else {
      // Integral ranges are normalised to closed whole-number bounds.
      inside =
          (!input.has_low || slot.i >= input.low.i) && (!input.has_high || slot.i <= input.high.i);
    }
    if (inside) return true;
  } else if (input.range.ContainsValue(input.type.is_decimal() ? slot.d
                                                               : Decimal::FromInt(slot.i))) {
    return true;
  }
  Value shown = input.type.is_decimal() ? Value::Dec(input.type.kind, slot.d) : Value::Int(slot.i);
  if (input.type.kind == TypeKind::kDate) shown = Value::Date(slot.i);
  *problem = absl::StrCat(FormatValue(shown, input.type), " is outside the declared range ",
                          input.range.ToString());
  return false;
}

Value ValueOf(const Slot& slot, const Type& type) {
  switch (type.kind) {
    case TypeKind::kBool:
      return Value::Bool(slot.i != 0);
    case TypeKind::kInt:
      return Value::Int(slot.i);
    case TypeKind::kDate:
      return Value::Date(slot.i);
    case TypeKind::kEnum:
      return Value::Enum(static_cast<int>(slot.i));
    case TypeKind::kEnumSet:
      return Value::Set(static_cast<uint64_t>(slot.i));
    case TypeKind::kDecimal:
    case TypeKind::kMoney:
    case TypeKind::kPercent:
      return Value::Dec(type.kind, slot.d);
    case TypeKind::kError:
      break;
  }
  return Value();
}

// The status that lists `problems`, which are sorted by fact and, when `out`
// is not null, handed over there.
absl::Status FactsError(std::vector<FactProblem> problems, std::vector<FactProblem>* out) {
  std::sort(problems.begin(), problems.end(),
            [](const FactProblem& a, const FactProblem& b) { return a.fact < b.fact; });
  std::vector<std::string> parts;
  for (const FactProblem& p : problems)
    parts.push_back(absl::StrCat("`", p.fact, "`: ", p.problem));
  absl::Status status = absl::InvalidArgumentError(
      absl::StrCat(problems.size() == 1 ? "1 problem" : absl::StrCat(problems.size(), " problems"),
                   " with the facts: ", absl::StrJoin(parts, "; ")));
  if (out != nullptr) *out = std::move(problems);
  return status;
}

bool Compare(Cmp cmp, int c) {
  switch (cmp) {
    case Cmp::kEq:
      return c == 0;
    case Cmp::kNe:
      return c != 0;
    case Cmp::kLt:
      return c < 0;
    case Cmp::kLe:
      return c <= 0;
    case Cmp::kGt:
      return c > 0;
    case Cmp::kGe:
      return c >= 0;
  }
  return false;
}

int Segment(const program::Lookup& lookup, const Slot& v) {
  if (lookup.direct) return static_cast<int>(v.i);
  if (lookup.decimal) {
    const auto& b = lookup.bounds_d;
    const size_t p = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), v.d,
                                                          [](const Decimal& x, const Decimal& y) {
                                                            return Decimal::Compare(x, y) < 0;
                                                          }) -
                                         b.begin());
    return static_cast<int>(p < b.size() && Decimal::Compare(b[p], v.d) == 0 ? 2 * p + 1 : 2 * p);
  }
  const auto& b = lookup.bounds_i;
  const size_t p = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), v.i) - b.begin());
  return static_cast<int>(p < b.size() && b[p] == v.i ? 2 * p + 1 : 2 * p);
}

// Runs the program over the frame; the first failure stops it.
absl::Status Run(const program::Program& prog, Slot* f, uint64_t* masks) {
  auto get = [&](uint32_t x) -> const Slot& { return f[x]; };
  const Instr* code = prog.code.data();
  const size_t n = prog.code.size();
  auto fail = [&](const Instr& in, absl::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat("evaluation failed in ", prog.contexts[in.where], ": ", what));
  };
#define CREDITD_DECIMAL_OP(method)                               \
  {                                                              \
    absl::StatusOr<Decimal> r = get(in.a).d.method(get(in.b).d); \
    if (!r.ok()) return fail(in, r.status().message());          \
    f[in.dst].d = *r;                                            \
  }
  for (size_t pc = 0; pc < n;) {
    const Instr& in = code[pc++];
    switch (in.op) {
      case OpCode::kMove:
        f[in.dst] = get(in.a);
        break;
      case OpCode::kIntToDec:
        f[in.dst].d = Decimal::FromInt(get(in.a).i);
        break;
      case OpCode::kAddI:
        if (__builtin_add_overflow(get(in.a).i, get(in.b).i, &f[in.dst].i)) {
          return fail(in, "integer overflow");
        }
        break;
      case OpCode::kSubI:
        if (__builtin_sub_overflow(get(in.a).i, get(in.b).i, &f[in.dst].i)) {
          return fail(in, "integer overflow");
        }
        break;
      case OpCode::kMulI:
        if (__builtin_mul_overflow(get(in.a).i, get(in.b).i, &f[in.dst].i)) {
          return fail(in, "integer overflow");
        }
        break;
      case OpCode::kAddDays:
      case OpCode::kSubDays: {
        int64_t days = 0;
        const bool overflow = in.op == OpCode::kAddDays
                                  ? __builtin_add_overflow(get(in.a).i, get(in.b).i, &days)
                                  : __builtin_sub_overflow(get(in.a).i, get(in.b).i, &days);
        if (overflow || !InDateRange(days)) {
          return fail(in, absl::StrCat("the date falls outside ", kDateRange));
        }
        f[in.dst].i = days;
        break;
      }
      case OpCode::kNegI:
        if (get(in.a).i == INT64_MIN) return fail(in, "integer overflow");
        f[in.dst].i = -get(in.a).i;
        break;
      case OpCode::kAddD:
        CREDITD_DECIMAL_OP(Add)
        break;
      case OpCode::kSubD:
        CREDITD_DECIMAL_OP(Sub)
        break;
      case OpCode::kMulD:
        CREDITD_DECIMAL_OP(Mul)
        break;
      case OpCode::kDivD:
        CREDITD_DECIMAL_OP(Div)
        break;
      case OpCode::kNegD:
        f[in.dst].d = get(in.a).d.Negate();
        break;
      case OpCode::kAbsI: {
        const int64_t v = get(in.a).i;
        if (v == INT64_MIN) return fail(in, "integer overflow");
        f[in.dst].i = v < 0 ? -v : v;
        break;
      }
      case OpCode::kAbsD:
        f[in.dst].d = get(in.a).d.Abs();
        break;
      case OpCode::kMinI:
        f[in.dst].i = std::min(get(in.a).i, get(in.b).i);
        break;
      case OpCode::kMaxI:
        f[in.dst].i = std::max(get(in.a).i, get(in.b).i);
        break;
      case OpCode::kMinD: {
        const Slot& a = get(in.a);
        const Slot& b = get(in.b);
        f[in.dst].d = Decimal::Compare(b.d, a.d) < 0 ? b.d : a.d;
        break;
      }
      case OpCode::kMaxD: {
        const Slot& a = get(in.a);
        const Slot& b = get(in.b);
        f[in.dst].d = Decimal::Compare(b.d, a.d) > 0 ? b.d : a.d;
        break;
      }
      case OpCode::kRoundD: {
        absl::StatusOr<Decimal> r = get(in.a).d.Round(in.imm, static_cast<RoundingMode>(in.aux));
        if (!r.ok()) return fail(in, r.status().message());
        f[in.dst].d = *r;
        break;
      }
      case OpCode::kCmpI: {
        const int64_t a = get(in.a).i;
        const int64_t b = get(in.b).i;
        f[in.dst].i = Compare(static_cast<Cmp>(in.aux), a < b ? -1 : (a > b ? 1 : 0));
        break;
      }
      case OpCode::kCmpD:
        f[in.dst].i = Compare(static_cast<Cmp>(in.aux), Decimal::Compare(get(in.a).d, get(in.b).d));
        break;
      case OpCode::kInRangeI: {
        const int64_t v = get(in.a).i;
        const int64_t lo = get(in.b).i;
        const int64_t hi = get(in.c).i;
        const bool above = (in.aux & 1) ? v > lo : v >= lo;
        const bool below = (in.aux & 2) ? v < hi : v <= hi;
        f[in.dst].i = above && below;
        break;
      }
      case OpCode::kInRangeD: {
        const int lo = Decimal::Compare(get(in.a).d, get(in.b).d);
        const int hi = Decimal::Compare(get(in.a).d, get(in.c).d);
        const bool above = (in.aux & 1) ? lo > 0 : lo >= 0;
        const bool below = (in.aux & 2) ? hi < 0 : hi <= 0;
        f[in.dst].i = above && below;
        break;
      }
      case OpCode::kInBits:
        f[in.dst].i = (static_cast<uint64_t>(get(in.b).i) >> get(in.a).i) & 1;
        break;
      case OpCode::kNot:
        f[in.dst].i = get(in.a).i == 0;
        break;
      case OpCode::kOrBits:
        f[in.dst].i = get(in.a).i | get(in.b).i;
        break;
      case OpCode::kBit:
        f[in.dst].i = static_cast<int64_t>(uint64_t{1} << get(in.a).i);
        break;
      case OpCode::kJump:
        pc = static_cast<size_t>(in.imm);
        break;
      case OpCode::kJumpIfFalse:
        if (get(in.a).i == 0) pc = static_cast<size_t>(in.imm);
        break;
      case OpCode::kJumpIfTrue:
        if (get(in.a).i != 0) pc = static_cast<size_t>(in.imm);
        break;
      case OpCode::kLookup: {
        const program::Lookup& lookup = prog.lookups[static_cast<size_t>(in.imm)];
        const int seg = Segment(lookup, get(in.a));
        f[in.dst].i = seg >= 0 && static_cast<size_t>(seg) < lookup.first_row.size()
                          ? lookup.first_row[static_cast<size_t>(seg)]
                          : -1;
        break;
      }
      case OpCode::kTableMatch: {
        const program::TableProgram& t = prog.tables[static_cast<size_t>(in.imm)];
        uint64_t* m = masks + t.mask_offset;
        const int words = t.words;
        for (int w = 0; w < words; ++w) m[w] = ~uint64_t{0};
        if (t.rows % 64 != 0) m[words - 1] = (uint64_t{1} << (t.rows % 64)) - 1;
        for (size_t c = 0; c < t.columns.size(); ++c) {
          const program::Lookup& lookup = prog.lookups[static_cast<size_t>(t.lookups[c])];
          const int seg = Segment(lookup, get(t.columns[c]));
          const uint64_t* rows =
              lookup.masks.data() + static_cast<size_t>(seg) * static_cast<size_t>(words);
          for (int w = 0; w < words; ++w) m[w] &= rows[w];
        }
        int64_t count = 0;
        for (int w = 0; w < words; ++w) count += __builtin_popcountll(m[w]);
        f[in.dst].i = count;
        break;
      }
      case OpCode::kMaskFirst: {
        const program::TableProgram& t = prog.tables[static_cast<size_t>(in.imm)];
        const uint64_t* m = masks + t.mask_offset;
        int64_t row = -1;
        for (int w = 0; w < t.words && row < 0; ++w) {
          if (m[w] != 0) row = 64 * w + __builtin_ctzll(m[w]);
        }
        f[in.dst].i = row;
        break;
      }
      case OpCode::kMaskHas: {
        const program::TableProgram& t = prog.tables[static_cast<size_t>(in.imm)];
        f[in.dst].i = (masks[t.mask_offset + in.c / 64] >> (in.c % 64)) & 1;
        break;
      }
      case OpCode::kJumpTable:
        pc = static_cast<size_t>(
            prog.jump_tables[static_cast<size_t>(in.imm)][static_cast<size_t>(get(in.a).i)]);
        break;
      case OpCode::kJumpUnlessI: {
        const int64_t a = get(in.a).i;
        const int64_t b = get(in.b).i;
        if (!Compare(static_cast<Cmp>(in.aux), a < b ? -1 : (a > b ? 1 : 0))) {
          pc = static_cast<size_t>(in.imm);
        }
        break;
      }
      case OpCode::kJumpUnlessD:
        if (!Compare(static_cast<Cmp>(in.aux), Decimal::Compare(get(in.a).d, get(in.b).d))) {
          pc = static_cast<size_t>(in.imm);
        }
        break;
      case OpCode::kFail:
        return fail(in, prog.errors[static_cast<size_t>(in.imm)]);
    }
  }
#undef CREDITD_DECIMAL_OP
  return absl::OkStatus();
}

std::string SlotText(const Slot& slot, const Type& type) {
  return FormatValue(ValueOf(slot, type), type);
}

// A message that quotes values, with this evaluation's: money with at least
// two places (as answers give it), percents as percents, the rest as the
// policy writes them.
void FillMessage(const MessageTemplate& message, const Slot* f, std::string* out) {
  out->clear();
  for (const MessageTemplate::Piece& piece : message.pieces) {
    if (!piece.is_value) {
      out->append(piece.text);
      continue;
    }
    const Value v = ValueOf(f[piece.slot], piece.type);
    if (v.kind == TypeKind::kMoney) {
      const Decimal n = v.d.Normalized();
      absl::StatusOr<Decimal> padded = n.scale() < 2 ? n.Round(2) : n;
      out->append(padded.ok() ? padded->ToString() : n.ToString());
    } else {
      out->append(FormatValue(v, piece.type));
    }
  }
}

void Trace(const CompiledPolicy& policy, const Slot* f, const uint64_t* masks, Decision* d) {
  auto reads = [&](const std::vector<ReadSlot>& slots) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const ReadSlot& r : slots) {
      const bool absent = r.given_slot >= 0 && f[r.given_slot].i == 0;
      out.emplace_back(r.name, absent ? "(not given)" : SlotText(f[r.slot], r.type));
    }
    return out;
  };
  for (const NamedSlot& n : policy.named()) {
    TraceStep step;
    step.kind = n.kind;
    step.name = n.name;
    step.value = SlotText(f[n.slot], n.type);
    if (n.row_slot >= 0) {
      step.detail = absl::StrCat("row ", f[n.row_slot].i + 1);
      step.rows.push_back(static_cast<int>(f[n.row_slot].i));
    } else if (n.table >= 0) {
      // Collect: every matched row.
      const program::TableProgram& t = policy.code().tables[static_cast<size_t>(n.table)];
      std::vector<std::string> rows;
      for (int r = 0; r < t.rows; ++r) {
        if ((masks[t.mask_offset + static_cast<uint32_t>(r) / 64] >> (r % 64)) & 1) {
          rows.push_back(absl::StrCat(r + 1));
          step.rows.push_back(r);
        }
      }
      step.detail = rows.empty() ? "no rows" : absl::StrCat("rows ", absl::StrJoin(rows, ", "));
    }
    step.location = n.location;
    step.reads = reads(n.reads);
    d->trace.push_back(std::move(step));
  }
  for (const ScorecardSlot& card : policy.scorecards()) {
    for (const FactorSlot& factor : card.factors) {
      TraceStep step;
      step.kind = TraceStep::Kind::kFactor;
      step.name = absl::StrCat(card.name, ".", factor.subject);
      step.value = f[factor.points].d.ToCanonicalString();
      const int64_t bin = f[factor.row].i;
      step.detail = absl::StrCat("bin ", bin + 1, ": ", factor.bins[static_cast<size_t>(bin)]);
      step.rows.push_back(static_cast<int>(bin));
      const int input = policy.FindInput(factor.subject);
      if (input >= 0) {
        const InputSlot& in = policy.inputs()[static_cast<size_t>(input)];
        step.reads.emplace_back(in.name, SlotText(f[in.slot], in.type));
      }
      d->trace.push_back(std::move(step));
    }
    TraceStep total;
    total.kind = TraceStep::Kind::kScorecard;
    total.name = absl::StrCat(card.name, ".total");
    total.value = f[card.total].d.ToCanonicalString();
    d->trace.push_back(std::move(total));
  }
  for (const RuleSlot& rule : policy.rules()) {
    TraceStep step;
    step.kind = TraceStep::Kind::kRule;
    step.name = rule.id;
    step.fired = f[rule.fired].i != 0;
    step.value = step.fired ? "fired" : "not fired";
    step.location = absl::StrCat(rule.file, ":", rule.line);
    step.reads = reads(rule.reads);
    d->trace.push_back(std::move(step));
  }
  for (size_t o = 0; o < d->outputs.size(); ++o) {
    const OutputValue& out = d->outputs[o];
    TraceStep step;
    step.kind = TraceStep::Kind::kOutput;
    step.name = std::string(out.name);
    step.value = out.has_value ? FormatValue(out.value, out.type) : "(no value)";
    step.reads = reads(policy.outputs()[o].reads);
    d->trace.push_back(std::move(step));
  }
}

}  // namespace

absl::Status EvaluateInto(const CompiledPolicy& policy, const Facts& facts,
                          const EvalOptions& options, Decision* decision,
                          std::vector<FactProblem>* fact_problems) {
  if (fact_problems != nullptr) fact_problems->clear();
  const program::Program& prog = policy.code();
  Scratch& scratch = ThreadScratch();
  const size_t frame_size = prog.slot_count + prog.constants.size();
  if (scratch.frame.size() < frame_size) scratch.frame.resize(frame_size);
  if (scratch.generation != prog.generation) {
    std::copy(prog.constants.begin(), prog.constants.end(),
              scratch.frame.begin() + prog.slot_count);
    scratch.generation = prog.generation;
  }
  if (scratch.masks.size() < prog.mask_words) scratch.masks.resize(prog.mask_words);
  const std::vector<InputSlot>& inputs = policy.inputs();
  scratch.seen.assign(inputs.size(), 0);
  Slot* f = scratch.frame.data();

  // 1. Validate every fact; collect every problem before giving up.
  std::vector<FactProblem> problems;
  std::string problem;
  for (const Fact& fact : facts.all()) {
    const int index = policy.FindInput(fact.name);
    if (index < 0) {
      problems.push_back(
          {EchoText(fact.name), absl::StrCat("not an input of `", policy.name(), "`")});
      continue;
    }
    const InputSlot& input = inputs[static_cast<size_t>(index)];
    if (scratch.seen[static_cast<size_t>(index)]) {
      problems.push_back({input.name, "given more than once"});
      continue;
    }
    scratch.seen[static_cast<size_t>(index)] = 1;
    Slot& slot = f[input.slot];
    if (!ToSlot(input, fact.value, options.facts, &slot, &problem) ||
        !InRange(input, slot, &problem)) {
      problems.push_back({input.name, problem});
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputSlot& input = inputs[i];
    if (input.optional) {
      f[input.given_slot].i = scratch.seen[i];
      if (!scratch.seen[i]) f[input.slot] = Slot{};
      continue;
    }
    if (scratch.seen[i]) continue;
    if (input.default_value) {
      const Value& v = *input.default_value;
      f[input.slot].i = v.kind == TypeKind::kBool ? (v.b ? 1 : 0) : v.i;
      f[input.slot].d = v.d;
      if (v.kind == TypeKind::kEnumSet) f[input.slot].i = static_cast<int64_t>(v.bits);
      continue;
    }
    problems.push_back({input.name, absl::StrCat("missing (", InputTypeName(input), ")")});
  }
  if (!problems.empty()) return FactsError(std::move(problems), fact_problems);
  if (policy.reads_today()) {
    if (!options.evaluation_date) {
      return absl::FailedPreconditionError(
          absl::StrCat("`", policy.name(), "` reads `today` and no evaluation date was given"));
    }
    f[policy.today_slot()].i = *options.evaluation_date;
  }

  // 2. Run the program.
  if (absl::Status status = Run(prog, f, scratch.masks.data()); !status.ok()) return status;

  // 3. The decision.
  Decision& d = *decision;
  d.policy = &policy;
  d.decision = policy.name();
  d.has_outcome = policy.outcome() != nullptr;
  if (d.has_outcome) {
    d.outcome_ordinal = static_cast<int>(f[policy.outcome_slot()].i);
    d.outcome = policy.outcome()->symbols[static_cast<size_t>(d.outcome_ordinal)];
  } else {
    d.outcome = {};
    d.outcome_ordinal = 0;
  }
  const std::vector<OutputSlot>& outs = policy.outputs();
  d.outputs.resize(outs.size());
  for (size_t o = 0; o < outs.size(); ++o) {
    OutputValue& v = d.outputs[o];
    v.name = outs[o].name;
    v.type = outs[o].type;
    v.places = outs[o].places;
    v.has_value = f[outs[o].has_value_slot].i != 0;
    v.value = ValueOf(f[outs[o].slot], outs[o].type);
  }
  d.reasons.clear();
  for (int r : policy.reason_order()) {
    const RuleSlot& rule = policy.rules()[static_cast<size_t>(r)];
    if (f[rule.fired].i == 0) continue;
    for (size_t k = 0; k < rule.reasons.size(); ++k) {
      const auto& [code, message] = rule.reasons[k];
      Reason reason;
      reason.code = code;
      reason.message = message;
      const int index = rule.reason_indexes[k];
      if (index >= 0 && !policy.messages()[static_cast<size_t>(index)].pieces.empty()) {
        reason.filled_in = true;
        FillMessage(policy.messages()[static_cast<size_t>(index)], f, &reason.filled);
      }
      reason.rule = rule.id;
      reason.file = rule.file;
      reason.line = rule.line;
      reason.severity = rule.severity;
      d.reasons.push_back(reason);
    }
  }
  const std::vector<ScorecardSlot>& cards = policy.scorecards();
  d.scorecards.resize(cards.size());
  for (size_t c = 0; c < cards.size(); ++c) {
    const ScorecardSlot& card = cards[c];
    ScorecardResult& result = d.scorecards[c];
    result.name = card.name;
    result.total = f[card.total].d;
    result.groups.resize(card.groups.size());
    for (size_t g = 0; g < card.groups.size(); ++g) {
      result.groups[g].name = card.groups[g].first;
      result.groups[g].weight = card.weights[g];
      result.groups[g].points = f[card.groups[g].second].d;
    }
    result.factors.resize(card.factors.size());
    result.top_reasons.clear();
    for (size_t k = 0; k < card.factors.size(); ++k) {
      const FactorSlot& fs = card.factors[k];
      FactorResult& fr = result.factors[k];
      fr.group = fs.group;
      fr.subject = fs.subject;
      fr.bin = static_cast<int>(f[fs.row].i);
      fr.points = f[fs.points].d;
      fr.max_points = fs.max_points;
      fr.reason = fs.reason;
      const Decimal lost = fs.max_points.Sub(fr.points).value_or(Decimal());
      fr.weighted_lost = lost.Mul(fs.weight).value_or(lost);
      const int below = Decimal::Compare(fr.points, fs.reason_below);
      if (!fs.reason.empty() && (below < 0 || (below == 0 && fs.reason_inclusive))) {
        result.top_reasons.push_back(static_cast<int>(k));
      }
    }
    // Stable insertion sort by weighted points lost, largest first: a handful
    // of factors, and unlike std::stable_sort it never allocates.
    std::vector<int>& top = result.top_reasons;
    for (size_t i = 1; i < top.size(); ++i) {
      const int k = top[i];
      size_t j = i;
      while (j > 0 && result.factors[static_cast<size_t>(top[j - 1])].weighted_lost <
                          result.factors[static_cast<size_t>(k)].weighted_lost) {
        top[j] = top[j - 1];
        --j;
      }
      top[j] = k;
    }
    if (result.top_reasons.size() > 4) result.top_reasons.resize(4);
  }
  d.evaluation_date.reset();
  if (policy.reads_today()) d.evaluation_date = options.evaluation_date;
  d.trace.clear();
  if (options.trace) Trace(policy, f, scratch.masks.data(), &d);
  return absl::OkStatus();
}

absl::StatusOr<Decision> Evaluate(const CompiledPolicy& policy, const Facts& facts,
                                  const EvalOptions& options, std::vector<FactProblem>* problems) {
  Decision decision;
  if (absl::Status status = EvaluateInto(policy, facts, options, &decision, problems);
      !status.ok()) {
    return status;
  }
  return decision;
}

namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 when none does.
size_t Utf8Length(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  if (c < 0x80) {
    return 1;
  } else if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string EchoText(absl::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  size_t i = 0;
  size_t shown = 0;  // bytes of `text` shown
  while (i < text.size()) {
    const size_t n = Utf8Length(text, i);
    const size_t take = n == 0 ? 1 : n;
    if (shown + take > max) break;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out.append(text.data() + i, n);
    }
    i += take;
    shown += take;
  }
  if (i < text.size()) out += "\u2026";
  return out;
}

}  // namespace creditd::engine
