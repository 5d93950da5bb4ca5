// The typing pass: every expression's type and, when known at check time,
// its value; the definitions (lets, bands, tables, scorecards) in definition
// order; the domains of tests and ranges; the inputs' ranges and defaults;
// the outputs' values. What a name refers to, it asks the resolver
// (check_resolve.cc) where it meets the name, with the type expected there.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dsl/formatter.h"
#include "engine/arithmetic.h"
#include "engine/check_context.h"
#include "engine/row_tests.h"
#include "engine/suggest.h"

namespace creditd::engine::check {

bool Assignable(const ExprInfo& info, const Type& target) {
  if (info.type == target) return true;
  if (info.type.is_error() || target.is_error()) return true;
  // Whole numbers fit every numeric type; untyped decimals every decimal type.
  if (info.type.kind == TypeKind::kInt && target.is_decimal()) return true;
  if (info.untyped && info.type.is_decimal() && target.is_decimal()) return true;
  if (info.untyped && info.type.kind == TypeKind::kDecimal && target.kind == TypeKind::kInt) {
    return info.constant && info.constant->d.is_integer();
  }
  // An empty set literal fits any set.
  if (info.type.kind == TypeKind::kEnumSet && target.kind == TypeKind::kEnumSet &&
      info.type.enum_type == nullptr) {
    return true;
  }
  return false;
}

Value Coerce(const Value& v, const Type& type) {
  if (type.is_numeric()) {
    absl::StatusOr<Value> converted = Convert(v, type.kind);
    if (converted.ok()) return *converted;
  }
  return v;
}

namespace {

using ast::Op;

bool IsComparison(Op op) {
  return op == Op::kEq || op == Op::kNe || op == Op::kLt || op == Op::kLe || op == Op::kGt ||
         op == Op::kGe;
}

const char* CompareText(Op op) { return ast::OpText(op); }

// The typing pass over one policy. Definitions are checked in definition
// order, so that what one uses is checked before it; only around a cycle
// (an error) does checking a definition start checking another, on its
// first use, as deep as kMaxDefinitionNesting, which is where the cycle is
// found and reported.
class Typer {
 public:
  explicit Typer(CheckContext& ctx) : ctx_(ctx) {}

  // The constant value of a checked expression converted to `type`; reports
  // E0305 when it is not constant.
  std::optional<Value> ConstantOf(const ast::Expr& expr, const Type& type, const char* what) {
    return ConstantFrom(expr, CheckExpr(expr, &type), type, what);
  }

  ABSL_ATTRIBUTE_NOINLINE std::optional<Value> ConstantFrom(const ast::Expr& expr,
                                                            const ExprInfo& info, const Type& type,
                                                            const char* what) {
    if (info.type.is_error()) return std::nullopt;
    if (!Assignable(info, type)) {
      ctx_.Error("E0304", expr.span,
                 absl::StrCat(what, " must be ", T(type), ", found ", T(info.type)));
      return std::nullopt;
    }
    if (!info.constant) {
      ctx_.Error("E0305", expr.span, absl::StrCat(what, " must be a constant"),
                 "write a literal such as 500_000, 60% or an enum symbol");
      return std::nullopt;
    }
    return Coerce(*info.constant, type);
  }

  // The domain of values that pass `test` on a subject of type `type`;
  // nullopt when the test is not made of constants (already reported).
  std::optional<Domain> TestDomain(const ast::Test& test, const Type& type) {
    switch (test.kind) {
      case ast::TestKind::kAny:
        return Domain::Full(type);
      case ast::TestKind::kCompare: {
        if (test.op != Op::kEq && test.op != Op::kNe && !type.is_ordered()) {
          ctx_.Error("E0302", test.span,
                     absl::StrCat("cannot compare ", T(type), " with ", CompareText(test.op)));
          return std::nullopt;
        }
        std::optional<Value> bound = ConstantOf(*test.value, type, "a bound");
        if (!bound) return std::nullopt;
        return Domain::Compare(type, CompareText(test.op), *bound);
      }
      case ast::TestKind::kInterval:
        return IntervalDomain(*test.interval, type);
      case ast::TestKind::kSet: {
        std::vector<Value> values;
        bool ok = true;
        for (const ast::ExprPtr& e : test.set) {
          std::optional<Value> v = ConstantOf(*e, type, "a set element");
          if (!v) {
            ok = false;
            continue;
          }
          values.push_back(*v);
        }
        if (!ok) return std::nullopt;
        return Domain::Points(type, values);
      }
      case ast::TestKind::kEqual: {
        std::optional<Value> v = ConstantOf(*test.value, type, "a test value");
        if (!v) return std::nullopt;
        return Domain::Point(type, *v);
      }
    }
    return std::nullopt;
  }

  std::optional<Domain> IntervalDomain(const ast::Interval& interval, const Type& type) {
    if (!type.is_ordered()) return NoRange(interval, type);
    std::optional<Value> low = ConstantOf(*interval.low, type, "a range bound");
    std::optional<Value> high = ConstantOf(*interval.high, type, "a range bound");
    if (!low || !high) return std::nullopt;
    return IntervalFrom(interval, type, *low, *high);
  }

  ABSL_ATTRIBUTE_NOINLINE std::optional<Domain> NoRange(const ast::Interval& interval,
                                                        const Type& type) {
    ctx_.Error("E0310", interval.span, absl::StrCat("a ", T(type), " value has no range"));
    return std::nullopt;
  }

  ABSL_ATTRIBUTE_NOINLINE std::optional<Domain> IntervalFrom(const ast::Interval& interval,
                                                             const Type& type, const Value& low,
                                                             const Value& high) {
    if (CompareValues(low, high) > 0) {
      ctx_.Error("E0307", interval.span,
                 absl::StrCat("empty range: ", FormatValue(low, type), " is above ",
                              FormatValue(high, type)),
                 "write the lower bound first");
      return std::nullopt;
    }
    Domain d = Domain::Between(type, low, interval.low_closed, high, interval.high_closed);
    if (d.empty()) {
      ctx_.Error("E0307", interval.span, "empty range: no value lies inside it");
      return std::nullopt;
    }
    return d;
  }

  void InputRanges() {
    for (InputInfo& info : ctx_.policy->inputs) {
      const ast::InputDecl* decl = info.decl;
      if (decl->constraint && !info.type.is_error()) {
        if (!info.type.is_ordered()) {
          ctx_.Error("E0310", decl->constraint->span,
                     absl::StrCat("input ", Quoted(info.name), " of type ", T(info.type),
                                  " cannot have a range"));
        } else if (std::optional<Domain> d = TestDomain(*decl->constraint, info.type)) {
          if (d->empty()) {
            ctx_.Error("E0307", decl->constraint->span,
                       absl::StrCat("the range of ", Quoted(info.name), " holds no value"));
          } else {
            info.range = *d;
            info.has_range = true;
          }
        }
      }
    }
    // Defaults after all ranges are known (a default is a constant of the type).
    for (InputInfo& info : ctx_.policy->inputs) {
      if (info.decl->default_value == nullptr || info.type.is_error()) continue;
      std::optional<Value> v = ConstantOf(*info.decl->default_value, info.type, "a default");
      if (!v) continue;
      if (info.type.is_ordered() && !info.range.Contains(Domain::Point(info.type, *v))) {
        ctx_.Error(
            "E0307", info.decl->default_value->span,
            absl::StrCat("the default ", FormatValue(*v, info.type), " of ", Quoted(info.name),
                         " is outside its range ", info.range.ToString()));
        continue;
      }
      // A default stands in for a fact: it may have no more places than one.
      const int places = info.type.is_decimal() ? v->d.Normalized().scale() : 0;
      if (info.type.is_decimal() && places > info.places) {
        ctx_.Error(
            "E0318", info.decl->default_value->span,
            absl::StrCat("the default ", FormatValue(*v, info.type), " of ", Quoted(info.name),
                         " has ", places, places == 1 ? " decimal place" : " decimal places",
                         info.type.kind == TypeKind::kPercent ? " as a fraction" : "", "; ",
                         Quoted(info.name), " takes ",
                         info.places == 0 ? std::string("whole amounts only")
                                          : absl::StrCat("at most ", info.places)));
        continue;
      }
      info.default_value = *v;
    }
  }

  // ----- lets, bands, tables, scorecards ----------------------------------

  // Definitions are checked in definition order (OrderDefinitions), so what
  // one uses is done before it. Only around a cycle does checking one start
  // checking another, on its first use (which keeps where, and in what
  // order, the cycle's diagnostics come out); this many definitions being
  // checked inside one another is refused (E0211).
  static constexpr int kMaxDefinitionNesting = 4;

  // Starts checking a lazily checked declaration; false when it is already
  // done, or when this is a cycle (reported, and then marked done). A true
  // result is paired with End.
  template <typename Decl>
  bool Begin(Pending<Decl>& pending) {
    if (pending.state == State::kDone) return false;
    if (pending.state == State::kUnchecked && ctx_.nesting >= kMaxDefinitionNesting) {
      ctx_.Error("E0211", pending.decl->name.span,
                 absl::StrCat(Quoted(pending.decl->name.name),
                              " leads back to the value being computed, through more than ",
                              kMaxDefinitionNesting, " others"),
                 "a value cannot be computed from itself, directly or through other values");
      pending.state = State::kDone;
      return false;
    }
    if (!Enter(pending.state, pending.decl->name)) {
      if (pending.state == State::kChecking) pending.state = State::kDone;
      return false;
    }
    ++ctx_.nesting;
    return true;
  }

  template <typename Decl>
  void End(Pending<Decl>& pending) {
    pending.state = State::kDone;
    --ctx_.nesting;
  }

  void Ensure(const Symbol& s) {
    switch (s.kind) {
      case Symbol::Kind::kLet:
        EnsureLet(s.index);
        break;
      case Symbol::Kind::kBand:
        EnsureBand(s.index);
        break;
      case Symbol::Kind::kTable:
        EnsureTable(s.index);
        break;
      default:
        EnsureScorecard(s.index);
        break;
    }
  }

  // Marks the start of checking a named declaration; false on a cycle.
  bool Enter(State& state, const ast::Ident& name) {
    if (state == State::kDone) return false;
    if (state == State::kChecking) {
      ctx_.Error("E0211", name.span, absl::StrCat(Quoted(name.name), " depends on itself"),
                 "a value cannot be computed from itself, directly or through other values");
      return false;
    }
    state = State::kChecking;
    return true;
  }

  void EnsureLet(int index) {
    auto& pending = ctx_.lets[static_cast<size_t>(index)];
    if (!Begin(pending)) return;
    const ast::LetDecl& decl = *pending.decl;
    LetInfo info;
    info.name = decl.name.name;
    info.decl = &decl;
    std::optional<Type> declared;
    if (decl.type) declared = ResolveType(ctx_, *decl.type);
    ExprInfo value = CheckExpr(*decl.value, declared ? &*declared : nullptr);
    info.type = value.type;
    if (declared && !declared->is_error() && !value.type.is_error()) {
      if (!Assignable(value, *declared)) {
        ctx_.Error("E0304", decl.value->span,
                   absl::StrCat(Quoted(info.name), " is declared ", T(*declared),
                                " but its value is ", T(value.type)));
      }
      info.type = *declared;
    } else if (value.untyped && value.type.kind == TypeKind::kInt) {
      info.type = Type::Of(TypeKind::kInt);
    }
    ctx_.let_infos[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  void EnsureBand(int index) {
    auto& pending = ctx_.bands[static_cast<size_t>(index)];
    if (!Begin(pending)) return;
    const ast::BandDecl& decl = *pending.decl;
    BandInfo info;
    info.name = decl.name.name;
    info.decl = &decl;
    ExprInfo subject = CheckExpr(*decl.subject, nullptr);
    info.subject_type = subject.type;
    if (!subject.type.is_error() && !subject.type.is_ordered()) {
      ctx_.Error("E0310", decl.subject->span,
                 absl::StrCat("a band maps numbers, dates or enum values; ", Quoted(info.name),
                              " is on a ", T(subject.type)));
      info.subject_type = Type::Error();
    }
    std::optional<Type> declared;
    if (decl.type) declared = ResolveType(ctx_, *decl.type);
    Type value_type = declared ? *declared : Type::Error();
    bool value_untyped = !declared.has_value();
    for (const ast::Row& row : decl.rows) {
      if (!info.subject_type.is_error()) TestDomain(row.test, info.subject_type);
      ExprInfo v = CheckExpr(*row.value, value_type.is_error() ? nullptr : &value_type);
      if (v.type.is_error()) continue;
      if (value_type.is_error()) {
        value_type = v.type;
        value_untyped = v.untyped;
      } else if (!Assignable(v, value_type)) {
        if (value_untyped && v.type.is_numeric() && value_type.is_numeric() &&
            Assignable(ExprInfo{value_type, true, std::nullopt, {}, -1, false, -1}, v.type)) {
          value_type = v.type;
          value_untyped = v.untyped;
        } else {
          ctx_.Error("E0304", row.value->span,
                     absl::StrCat("band ", Quoted(info.name), " maps to ", T(value_type),
                                  ", but this row gives ", T(v.type)));
        }
      }
    }
    info.type = value_type;
    ctx_.band_infos[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  void EnsureTable(int index) {
    auto& pending = ctx_.tables[static_cast<size_t>(index)];
    if (!Begin(pending)) return;
    const ast::TableDecl& decl = *pending.decl;
    TableInfo info;
    info.name = decl.name.name;
    info.decl = &decl;
    if (decl.hit) {
      const std::string& hit = decl.hit->name;
      if (hit == "first") {
        info.hit = HitPolicy::kFirst;
      } else if (hit == "unique") {
        info.hit = HitPolicy::kUnique;
      } else if (hit == "priority") {
        info.hit = HitPolicy::kPriority;
      } else if (hit == "collect") {
        info.hit = HitPolicy::kCollect;
      } else {
        ctx_.Error(
            "E0315", decl.hit->span, absl::StrCat("unknown hit policy ", Quoted(hit)),
            "the hit policies are first, unique, priority and collect (with min, max or sum)");
      }
    }
    if (decl.aggregate) {
      const std::string& agg = decl.aggregate->name;
      if (info.hit != HitPolicy::kCollect) {
        ctx_.Error("E0315", decl.aggregate->span,
                   absl::StrCat(Quoted(agg), " only follows `collect`: `hit collect ", agg, "`"));
      } else if (agg == "min") {
        info.aggregate = Aggregate::kMin;
      } else if (agg == "max") {
        info.aggregate = Aggregate::kMax;
      } else if (agg == "sum") {
        info.aggregate = Aggregate::kSum;
      } else {
        ctx_.Error("E0315", decl.aggregate->span, absl::StrCat("unknown aggregate ", Quoted(agg)),
                   "collect takes min, max or sum, or nothing to gather a set");
      }
    }
    for (const ast::ExprPtr& input : decl.inputs) {
      ExprInfo in = CheckExpr(*input, nullptr);
      info.input_types.push_back(in.type);
    }
    for (const ast::TableColumn& column : decl.outputs) {
      Type t = ResolveType(ctx_, column.type);
      if (info.hit == HitPolicy::kCollect && !t.is_error()) {
        if (info.aggregate == Aggregate::kNone) {
          if (t.kind != TypeKind::kEnum) {
            ctx_.Error("E0316", column.span,
                       absl::StrCat("`hit collect` gathers enum values into a set; column ",
                                    Quoted(column.name.name), " is ", T(t)),
                       "use `hit collect sum`, `min` or `max` for numbers");
          }
        } else if (!t.is_numeric() && !(info.aggregate != Aggregate::kSum && t.is_ordered())) {
          ctx_.Error("E0316", column.span,
                     absl::StrCat("cannot aggregate column ", Quoted(column.name.name), " of type ",
                                  T(t)));
        }
      }
      info.output_types.push_back(t);
    }
    std::vector<std::vector<Domain>> columns(decl.inputs.size());
    for (const ast::TableRow& row : decl.rows) {
      if (row.tests.size() != decl.inputs.size() || row.values.size() != decl.outputs.size()) {
        ctx_.Error("E0314", row.span,
                   absl::StrCat("this row has ", row.tests.size(), " condition cells and ",
                                row.values.size(), " result cells; table ", Quoted(info.name),
                                " has ", decl.inputs.size(), " and ", decl.outputs.size()));
        continue;
      }
      for (size_t c = 0; c < row.tests.size(); ++c) {
        if (info.input_types[c].is_error()) continue;
        std::optional<Domain> d = TestDomain(row.tests[c], info.input_types[c]);
        if (d) columns[c].push_back(*std::move(d));
      }
      for (size_t c = 0; c < row.values.size(); ++c) {
        const Type& t = info.output_types[c];
        ExprInfo v = CheckExpr(*row.values[c], t.is_error() ? nullptr : &t);
        if (!t.is_error() && !v.type.is_error() && !Assignable(v, t)) {
          ctx_.Error("E0304", row.values[c]->span,
                     absl::StrCat("column ", Quoted(decl.outputs[c].name.name), " is ", T(t),
                                  ", found ", T(v.type)));
        }
      }
    }
    CountLookups(decl, info, columns);
    // Collect without aggregate gathers a set of the enum.
    if (info.hit == HitPolicy::kCollect && info.aggregate == Aggregate::kNone) {
      for (Type& t : info.output_types) {
        if (t.kind == TypeKind::kEnum) t = Type::Set(t.enum_type);
      }
    }
    ctx_.table_infos[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  // "12 MiB", "7 KiB": rounded up or down.
  static std::string Bytes(int64_t bytes, bool up) {
    const int64_t unit = bytes >= (int64_t{1} << 20) ? int64_t{1} << 20 : 1024;
    return absl::StrCat((bytes + (up ? unit - 1 : 0)) / unit, unit == 1024 ? " KiB" : " MiB");
  }

  // What the table's compiled lookups will take (compiler.cc BuildLookup):
  // per condition column, a mask of the rows for each segment of its values.
  // The policy's tables together stay under ctx_.options.max_table_lookup_words.
  void CountLookups(const ast::TableDecl& decl, const TableInfo& info,
                    const std::vector<std::vector<Domain>>& columns) {
    const int64_t words = std::max<int64_t>(1, (static_cast<int64_t>(decl.rows.size()) + 63) / 64);
    int64_t mine = 0;
    for (size_t c = 0; c < columns.size(); ++c) {
      if (info.input_types[c].is_error()) continue;
      mine += static_cast<int64_t>(LookupSegments(columns[c], info.input_types[c])) * words;
    }
    ctx_.lookup_words += mine;
    if (ctx_.lookup_words > ctx_.options.max_table_lookup_words && mine > 0) {
      ++ctx_.too_large;
      ctx_.Error(
          "E0319", decl.name.span,
          absl::StrCat("table ", Quoted(info.name), " is too large to serve: compiled, the ",
                       "policy's tables would take ", Bytes(ctx_.lookup_words * 8, /*up=*/true),
                       ", at most ", Bytes(ctx_.options.max_table_lookup_words * 8, /*up=*/false),
                       " are allowed"),
          absl::StrCat("its ", decl.rows.size(),
                       " rows cut the values they test into many pieces; split it into smaller "
                       "tables"));
    }
  }

  void EnsureScorecard(int index) {
    auto& pending = ctx_.scorecards[static_cast<size_t>(index)];
    if (!Begin(pending)) return;
    const ast::ScorecardDecl& decl = *pending.decl;
    ScorecardInfo info;
    info.name = decl.name.name;
    info.decl = &decl;
    absl::flat_hash_set<std::string> names;
    Decimal weights;
    bool weights_known = true;
    for (const ast::ScoreGroup& group : decl.groups) {
      GroupInfo g;
      g.name = group.name.name;
      g.decl = &group;
      if (!names.insert(g.name).second) {
        ctx_.Error(
            "E0202", group.name.span,
            absl::StrCat(Quoted(g.name), " is declared twice in scorecard ", Quoted(info.name)));
      }
      ExprInfo w = CheckExpr(*group.weight, nullptr);
      if (!w.type.is_error()) {
        if (!w.constant || !(w.type.kind == TypeKind::kPercent || w.type.is_numeric())) {
          ctx_.Error("E0312", group.weight->span,
                     "a group weight must be a constant percent or decimal, such as 40% or 0.4");
          weights_known = false;
        } else {
          g.weight = w.constant->AsDecimal();
          weights = weights.Add(g.weight).value_or(weights);
        }
      } else {
        weights_known = false;
      }
      const Type decimal = Type::Of(TypeKind::kDecimal);
      for (const ast::Factor& factor : group.factors) {
        FactorInfo f;
        f.subject = factor.subject.name;
        f.decl = &factor;
        if (!names.insert(f.subject).second) {
          ctx_.Error(
              "E0202", factor.subject.span,
              absl::StrCat(Quoted(f.subject), " is scored twice in scorecard ", Quoted(info.name)));
        }
        ast::Expr subject;
        subject.kind = ast::ExprKind::kName;
        subject.text = factor.subject.name;
        subject.span = factor.subject.span;
        ExprInfo s = CheckName(subject, nullptr, /*record=*/false);
        f.subject_type = s.type;
        if (!s.type.is_error() && !s.type.is_ordered() && s.type.kind != TypeKind::kBool) {
          ctx_.Error("E0310", factor.subject.span,
                     absl::StrCat("cannot score ", Quoted(f.subject), " of type ", T(s.type)));
          f.subject_type = Type::Error();
        }
        f.subject_symbol = s.symbol;
        if (factor.reason) {
          f.reason = ResolveReason(ctx_, *factor.reason);
        }
        bool first = true;
        for (const ast::Row& row : factor.rows) {
          if (!f.subject_type.is_error()) TestDomain(row.test, f.subject_type);
          ExprInfo p = CheckExpr(*row.value, &decimal);
          if (p.type.is_error()) continue;
          if (!p.constant || !p.type.is_numeric() || p.type.kind == TypeKind::kMoney ||
              p.type.kind == TypeKind::kPercent) {
            ctx_.Error("E0313", row.value->span, "points must be a constant number, such as 40");
            continue;
          }
          const Decimal points = p.constant->AsDecimal();
          if (first || points > f.max_points) f.max_points = points;
          first = false;
        }
        f.reason_below = f.max_points;
        if (factor.reason_threshold) {
          ExprInfo t = CheckExpr(*factor.reason_threshold, &decimal);
          if (!t.type.is_error()) {
            if (!t.constant || !t.type.is_numeric() || t.type.kind == TypeKind::kMoney ||
                t.type.kind == TypeKind::kPercent) {
              ctx_.Error("E0313", factor.reason_threshold->span,
                         "the points a reason applies below must be a constant number, such as 22");
            } else {
              f.reason_below = t.constant->AsDecimal();
              f.reason_inclusive = factor.reason_op == ast::Op::kLe;
            }
          }
        }
        g.factors.push_back(std::move(f));
      }
      info.groups.push_back(std::move(g));
    }
    if (weights_known && weights != Decimal::FromInt(1)) {
      Value total = Value::Dec(TypeKind::kPercent, weights);
      ctx_.Warning("W0504", decl.name.span,
                   absl::StrCat("the group weights of ", Quoted(info.name), " add up to ",
                                FormatValue(total, Type::Of(TypeKind::kPercent)), ", not 100%"));
    }
    ctx_.scorecard_infos[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  // ----- expressions -------------------------------------------------------

  ABSL_ATTRIBUTE_NOINLINE ExprInfo Record(const ast::Expr& e, ExprInfo info) {
    ctx_.policy->exprs[&e] = info;
    return info;
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo Fail(const ast::Expr& e) { return Record(e, ExprInfo{}); }

  // Expressions are checked by recursion, at most ParseOptions::max_depth
  // levels deep. The functions on that recursion keep few locals: what they
  // conclude, and every diagnostic, is worked out in helpers called after
  // the recursion returns, so a level costs little stack (docs/language.md,
  // Limits).
  ExprInfo CheckExpr(const ast::Expr& e, const Type* hint) {
    // The parser bounds the depth of one definition's expressions; only
    // inside definitions checked inside one another must it be counted.
    if (ctx_.nesting > 1) return CheckNested(e, hint);
    return Dispatch(e, hint);
  }

  // Checking a definition inside another happens only around a cycle (see
  // OrderDefinitions), which may lead through one deep expression after
  // another: this many levels of them are checked before it is reported.
  static constexpr int kMaxNestedLevels = 40;

  ExprInfo CheckNested(const ast::Expr& e, const Type* hint) {
    if (ctx_.nested_levels >= kMaxNestedLevels) return NestedTooFar(e);
    ++ctx_.nested_levels;
    ExprInfo info = Dispatch(e, hint);
    --ctx_.nested_levels;
    return info;
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo NestedTooFar(const ast::Expr& e) {
    ctx_.Error(
        "E0211", e.span,
        "the values used here lead back to the value being computed, through too many others",
        "a value cannot be computed from itself, directly or through other values");
    return Fail(e);
  }

  ExprInfo Dispatch(const ast::Expr& e, const Type* hint) {
    switch (e.kind) {
      case ast::ExprKind::kLiteral:
        return CheckLiteral(e);
      case ast::ExprKind::kName:
        return CheckName(e, hint, /*record=*/true);
      case ast::ExprKind::kMember:
        return CheckMember(e);
      case ast::ExprKind::kCall:
        return CheckCall(e, hint);
      case ast::ExprKind::kUnary:
        return e.op == Op::kNot ? CheckNot(e) : CheckNegate(e, hint);
      case ast::ExprKind::kBinary:
        return e.op == Op::kAnd || e.op == Op::kOr
                   ? CheckLogic(e)
                   : (IsComparison(e.op) ? CheckComparison(e) : CheckArithmetic(e, hint));
      case ast::ExprKind::kIn:
        return CheckIn(e);
      case ast::ExprKind::kIf:
        return CheckIf(e, hint);
      case ast::ExprKind::kSet:
        return CheckSetLiteral(e, hint);
    }
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo CheckLiteral(const ast::Expr& e) {
    absl::StatusOr<Value> v = ParseLiteral(e.text);
    if (!v.ok()) {
      ctx_.Error("E0306", e.span,
                 absl::StrCat("invalid literal ", Quoted(e.text), ": ",
                              std::string(v.status().message())));
      return Fail(e);
    }
    ExprInfo info;
    info.type = Type::Of(v->kind);
    info.constant = *v;
    info.untyped = v->kind == TypeKind::kInt || v->kind == TypeKind::kDecimal;
    info.places = ValuePlaces(*v);
    return Record(e, info);
  }

  static ExprInfo SymbolInfo(const EnumType* type, int ordinal) {
    ExprInfo info;
    info.type = Type::Enum(type);
    info.constant = Value::Enum(ordinal);
    info.symbol = {Symbol::Kind::kEnumSymbol, ordinal};
    return info;
  }

  // A name as a value: what it refers to (ResolveName), then its type.
  ABSL_ATTRIBUTE_NOINLINE ExprInfo CheckName(const ast::Expr& e, const Type* hint, bool record) {
    if (IsToday(e)) {
      ExprInfo today;
      today.type = Type::Of(TypeKind::kDate);
      today.symbol = {Symbol::Kind::kToday, 0};
      today.places = 0;
      return record ? Record(e, today) : today;
    }
    const NameRef ref = ResolveName(ctx_, e, hint);
    ExprInfo info;
    info.symbol = ref.symbol;
    switch (ref.symbol.kind) {
      case Symbol::Kind::kNone:
        info = ExprInfo{};
        break;
      case Symbol::Kind::kEnumSymbol:
        info = SymbolInfo(ref.enum_type, ref.symbol.index);
        break;
      case Symbol::Kind::kInput:
        info.type = ctx_.policy->inputs[static_cast<size_t>(ref.symbol.index)].type;
        if (!Given(ref.symbol.index)) NotGiven(e);
        break;
      case Symbol::Kind::kLet:
        EnsureLet(ref.symbol.index);
        if (static_cast<size_t>(ref.symbol.index) < ctx_.let_infos.size()) {
          info.type = ctx_.let_infos[static_cast<size_t>(ref.symbol.index)].type;
        }
        break;
      case Symbol::Kind::kBand:
        EnsureBand(ref.symbol.index);
        if (static_cast<size_t>(ref.symbol.index) < ctx_.band_infos.size()) {
          info.type = ctx_.band_infos[static_cast<size_t>(ref.symbol.index)].type;
        }
        break;
      case Symbol::Kind::kTable:
      case Symbol::Kind::kScorecard:
        NotAValue(e, ref.symbol);
        info = ExprInfo{};
        break;
      case Symbol::Kind::kOutput:
        info.type = ctx_.policy->outputs[static_cast<size_t>(ref.symbol.index)].type;
        break;
      case Symbol::Kind::kToday:
        break;
    }
    info.places = SymbolPlaces(info.symbol, -1);
    return record ? Record(e, info) : info;
  }

  // `today`, the evaluation date, from edition 2 (where no value may take
  // the name).
  bool IsToday(const ast::Expr& e) const {
    return ctx_.policy->edition >= 2 && e.kind == ast::ExprKind::kName && e.text == "today";
  }

  // Is the input, when optional, known to be given here?
  bool Given(int input) const {
    if (!ctx_.policy->inputs[static_cast<size_t>(input)].optional) return true;
    return std::find(ctx_.given.begin(), ctx_.given.end(), input) != ctx_.given.end();
  }

  ABSL_ATTRIBUTE_NOINLINE void NotGiven(const ast::Expr& e) {
    ctx_.Error("E0320", e.span,
               absl::StrCat("optional input ", Quoted(e.text), " may not be given here"),
               absl::StrCat("read it where `given(", e.text, ")` holds: `if given(", e.text,
                            ") then ", e.text, " else ...`, or `given(", e.text, ") and ...`"));
  }

  // The most decimal places a number has, trailing zeros not counted.
  static int ValuePlaces(const Value& v) {
    if (v.kind == TypeKind::kInt) return 0;
    if (!Type::Of(v.kind).is_decimal()) return 0;
    return std::max(0, v.d.Normalized().scale());
  }

  // The most decimal places the value `symbol` names (for a table or
  // scorecard, its member `member`) may have.
  ABSL_ATTRIBUTE_NOINLINE int SymbolPlaces(const Symbol& symbol, int member) const {
    const CheckedPolicy& p = *ctx_.policy;
    auto of = [&](const ast::Expr* expr) {
      const ExprInfo* info = expr != nullptr ? p.Info(expr) : nullptr;
      return info != nullptr ? info->places : Decimal::kMaxScale;
    };
    const size_t i = static_cast<size_t>(symbol.index);
    switch (symbol.kind) {
      case Symbol::Kind::kInput: {
        const InputInfo& in = p.inputs[i];
        return in.type.kind == TypeKind::kInt ? 0 : (in.places >= 0 ? in.places : 0);
      }
      case Symbol::Kind::kLet:
        return i < ctx_.lets.size() ? of(ctx_.lets[i].decl->value.get()) : Decimal::kMaxScale;
      case Symbol::Kind::kBand: {
        if (i >= ctx_.bands.size()) return Decimal::kMaxScale;
        int places = 0;
        for (const ast::Row& row : ctx_.bands[i].decl->rows) {
          places = std::max(places, of(row.value.get()));
        }
        return places;
      }
      case Symbol::Kind::kTable: {
        if (i >= ctx_.tables.size() || member < 0) return Decimal::kMaxScale;
        int places = 0;
        for (const ast::TableRow& row : ctx_.tables[i].decl->rows) {
          if (static_cast<size_t>(member) < row.values.size()) {
            places = std::max(places, of(row.values[static_cast<size_t>(member)].get()));
          }
        }
        return places;
      }
      case Symbol::Kind::kOutput:
        return p.outputs[i].places >= 0 ? p.outputs[i].places : Decimal::kMaxScale;
      case Symbol::Kind::kEnumSymbol:
      case Symbol::Kind::kToday:
        return 0;
      default:
        return Decimal::kMaxScale;
    }
  }

  // A table or scorecard named where a value is expected.
  ABSL_ATTRIBUTE_NOINLINE void NotAValue(const ast::Expr& e, const Symbol& symbol) {
    ctx_.Error("E0208", e.span,
               absl::StrCat(Quoted(e.text), " is a ",
                            symbol.kind == Symbol::Kind::kTable ? "table" : "scorecard",
                            "; use one of its values, e.g. ",
                            symbol.kind == Symbol::Kind::kTable ? "`" + e.text + ".<column>`"
                                                                : "`" + e.text + ".total`"));
  }

  // A member: the table or scorecard it reads, checked first, then which
  // part of it (ResolveMember).
  ABSL_ATTRIBUTE_NOINLINE ExprInfo CheckMember(const ast::Expr& e) {
    const std::optional<Symbol> symbol = ResolveMemberBase(ctx_, e);
    if (!symbol) return Fail(e);
    Record(*e.args[0], ExprInfo{Type::Error(), false, std::nullopt, *symbol, -1, false, -1});
    if (symbol->kind == Symbol::Kind::kTable) {
      EnsureTable(symbol->index);
      // A table read while it is being checked (a row naming its own table)
      // has no info yet; the cycle has been reported.
      if (ctx_.table_infos[static_cast<size_t>(symbol->index)].decl == nullptr) return Fail(e);
    } else if (symbol->kind == Symbol::Kind::kScorecard) {
      EnsureScorecard(symbol->index);
    }
    ExprInfo info;
    info.symbol = *symbol;
    if (!ResolveMember(ctx_, e, *symbol, &info)) return Fail(e);
    info.places = SymbolPlaces(*symbol, symbol->kind == Symbol::Kind::kTable ? info.member : -1);
    return Record(e, info);
  }

  static ExprInfo Typed(const Type& type) {
    ExprInfo info;
    info.type = type;
    return info;
  }

  // A bare name that is no value: an enum symbol waiting for its enum.
  bool IsBareSymbol(const ast::Expr& e) const {
    if (e.kind != ast::ExprKind::kName || ctx_.values.contains(e.text)) return false;
    return ctx_.current_output < 0 || ctx_.policy->FindOutput(e.text) < 0;
  }

  // Two operands that must agree are checked left first, the other's type
  // the hint for the second; but a bare enum symbol on the left takes its
  // enum from the right, which is then checked first.
  ABSL_ATTRIBUTE_NOINLINE bool RightFirst(const ast::Expr& a, const ast::Expr& b) const {
    return IsBareSymbol(a) && !IsBareSymbol(b);
  }
  static const Type* HintFrom(const ExprInfo& other, const Type* hint) {
    return other.type.is_error() ? hint : &other.type;
  }

  // The common numeric type of two operands for min/max/if/comparison, or
  // error. Untyped constants adopt the other side's type.
  static std::optional<ExprInfo> Unify(const ExprInfo& a, const ExprInfo& b) {
    if (a.type == b.type) {
      ExprInfo r = a;
      r.untyped = a.untyped && b.untyped;
      return r;
    }
    if (a.type.is_numeric() && b.type.is_numeric()) {
      if (a.untyped && !b.untyped && Assignable(a, b.type)) return Typed(b.type);
      if (b.untyped && !a.untyped && Assignable(b, a.type)) return Typed(a.type);
      if (a.untyped && b.untyped) {
        ExprInfo r;
        r.type = Type::Of(TypeKind::kDecimal);
        r.untyped = true;
        return r;
      }
      // int mixes with decimal (not with money or percent)
      if ((a.type.kind == TypeKind::kInt && b.type.kind == TypeKind::kDecimal) ||
          (b.type.kind == TypeKind::kInt && a.type.kind == TypeKind::kDecimal)) {
        return Typed(Type::Of(TypeKind::kDecimal));
      }
      return std::nullopt;
    }
    if (a.type.kind == TypeKind::kEnumSet && b.type.kind == TypeKind::kEnumSet) {
      if (a.type.enum_type == nullptr) return b;
      if (b.type.enum_type == nullptr) return a;
    }
    return std::nullopt;
  }

  ExprInfo CheckCall(const ast::Expr& e, const Type* hint) {
    if (e.text == "min" || e.text == "max") return CheckMinMax(e, hint);
    if (e.text == "abs") return CheckAbs(e, hint);
    if (e.text == "round") return CheckRound(e, hint);
    if (ctx_.policy->edition >= 2) {
      if (e.text == "given") return CheckGiven(e);
      if (e.text == "percent") return CheckPercent(e);
    }
    return CheckUnknownCall(e);
  }

  // `given(x)`: whether the optional input x was given (edition 2).
  ABSL_ATTRIBUTE_NOINLINE ExprInfo CheckGiven(const ast::Expr& e) {
    if (e.args.size() != 1 || e.args[0]->kind != ast::ExprKind::kName) {
      return CallError(e, "E0209", "takes the name of an optional input",
                       "e.g. `given(manual_limit)`");
    }
    const ast::Expr& name = *e.args[0];
    const NameRef ref = ResolveName(ctx_, name, nullptr);
    if (ref.symbol.kind == Symbol::Kind::kNone) return Fail(e);
    const bool input = ref.symbol.kind == Symbol::Kind::kInput;
    if (!input || !ctx_.policy->inputs[static_cast<size_t>(ref.symbol.index)].optional) {
      ctx_.Error("E0320", name.span,
                 absl::StrCat("`given` tests an optional input; ", Quoted(name.text), " is ",
                              input ? "a required input, always given" : "no input"),
                 input ? absl::StrCat("declare it `input ", name.text,
                                      ": <type>?` to make it "
                                      "optional")
                       : "");
      return Fail(e);
    }
    ExprInfo arg;
    arg.type = ctx_.policy->inputs[static_cast<size_t>(ref.symbol.index)].type;
    arg.symbol = ref.symbol;
    Record(name, arg);
    return Record(e, Typed(Type::Of(TypeKind::kBool)));
  }

  // `percent(ratio)`: a decimal read as the fraction a percent is (0.5512 is
  // 55.12%), the explicit way from a ratio to a percent (edition 2).
  ExprInfo CheckPercent(const ast::Expr& e) {
    if (e.args.size() != 1) {
      return CallError(e, "E0209", "takes one ratio", "e.g. `percent(exposure / credit_limit)`");
    }
    ExprInfo x = CheckExpr(*e.args[0], nullptr);
    return FinishPercent(e, x);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishPercent(const ast::Expr& e, const ExprInfo& x) {
    if (x.type.is_error()) return Fail(e);
    if (x.type.kind != TypeKind::kDecimal && x.type.kind != TypeKind::kInt) {
      ctx_.Error(
          "E0301", e.span,
          absl::StrCat("`percent` reads a ratio (a decimal) as a percent, found ", T(x.type)),
          x.type.kind == TypeKind::kPercent ? "it is a percent already" : "");
      return Fail(e);
    }
    ExprInfo r;
    r.type = Type::Of(TypeKind::kPercent);
    r.places = x.places;
    if (x.constant) r.constant = Value::Dec(TypeKind::kPercent, x.constant->AsDecimal());
    return Record(e, r);
  }

  ExprInfo CheckUnknownCall(const ast::Expr& e) {
    UnknownFunction(e);
    for (const ast::ExprPtr& arg : e.args) CheckExpr(*arg, nullptr);
    return Fail(e);
  }

  ExprInfo CheckMinMax(const ast::Expr& e, const Type* hint) {
    const size_t n = e.args.size();
    if (n < 2) return CallError(e, "E0209", "takes two or more values");
    // The first argument that is not a bare symbol sets the type.
    size_t lead = 0;
    while (lead + 1 < n && IsBareSymbol(*e.args[lead])) ++lead;
    ExprInfo result = CheckExpr(*e.args[lead], hint);
    return CheckMinMaxRest(e, lead, hint, result);
  }

  // The arguments of min or max besides the one that set the type.
  ExprInfo CheckMinMaxRest(const ast::Expr& e, size_t lead, const Type* hint, ExprInfo result) {
    for (size_t i = 0; i < e.args.size(); ++i) {
      if (i == lead) continue;
      ExprInfo next = CheckExpr(*e.args[i], HintFrom(result, hint));
      if (!MinMaxStep(e, next, &result)) return Fail(e);
    }
    return FinishCall(e, result);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishCall(const ast::Expr& e, const ExprInfo& result) {
    ExprInfo folded = FoldCall(e, result);
    folded.places = 0;
    for (const ast::ExprPtr& arg : e.args) {
      const ExprInfo* info = ctx_.policy->Info(arg.get());
      folded.places = std::max(folded.places, info != nullptr ? info->places : Decimal::kMaxScale);
    }
    return Record(e, folded);
  }

  // Folds one more argument of min or max into `result`; false (reported
  // when new) when they do not mix.
  ABSL_ATTRIBUTE_NOINLINE bool MinMaxStep(const ast::Expr& e, const ExprInfo& next,
                                          ExprInfo* result) {
    if (result->type.is_error() || next.type.is_error()) return false;
    std::optional<ExprInfo> unified = Unify(*result, next);
    if (!unified || !unified->type.is_ordered()) {
      ctx_.Error(
          "E0301", e.span,
          absl::StrCat(Quoted(e.text), " cannot mix ", T(result->type), " and ", T(next.type)));
      return false;
    }
    *result = *unified;
    return true;
  }

  ExprInfo CheckAbs(const ast::Expr& e, const Type* hint) {
    if (e.args.size() != 1) return CallError(e, "E0209", "takes one value");
    ExprInfo x = CheckExpr(*e.args[0], hint);
    return FinishAbs(e, x);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishAbs(const ast::Expr& e, const ExprInfo& x) {
    if (x.type.is_error()) return Fail(e);
    if (!x.type.is_numeric()) return NeedsNumber(e, x);
    return FinishCall(e, x);
  }

  ExprInfo CheckRound(const ast::Expr& e, const Type* hint) {
    const size_t n = e.args.size();
    if (n != 2 && n != 3) {
      return CallError(e, "E0209", "takes a value, a number of places and optionally a mode",
                       "e.g. `round(amount, 2)` or `round(amount, 0, half_up)`");
    }
    ExprInfo x = CheckExpr(*e.args[0], hint);
    ExprInfo places = CheckExpr(*e.args[1], nullptr);
    return FinishRound(e, x, places);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishRound(const ast::Expr& e, const ExprInfo& x,
                                               const ExprInfo& places) {
    if (x.type.is_error() || places.type.is_error()) return Fail(e);
    if (!x.type.is_numeric()) return NeedsNumber(e, x);
    // From edition 2 a percent rounds in percent points: round(55.123%, 2)
    // is 55.12%, two places of the percent, four of the fraction.
    const int shift = PercentPoints(x.type) ? 2 : 0;
    if (!places.constant || places.type.kind != TypeKind::kInt || places.constant->i < 0 ||
        places.constant->i > Decimal::kMaxScale - shift) {
      ctx_.Error("E0309", e.args[1]->span,
                 absl::StrCat("the places of `round` must be a whole number from 0 to ",
                              Decimal::kMaxScale - shift),
                 shift > 0 ? "a percent rounds in percent points: `round(ratio, 2)` keeps "
                             "hundredths of a percent"
                           : "");
      return Fail(e);
    }
    if (e.args.size() == 3) {
      const ast::Expr& mode = *e.args[2];
      static const char* kModes[] = {"half_even", "half_up", "half_down", "up",
                                     "down",      "ceiling", "floor"};
      bool known = mode.kind == ast::ExprKind::kName &&
                   std::any_of(std::begin(kModes), std::end(kModes),
                               [&](const char* m) { return mode.text == m; });
      if (!known) {
        ctx_.Error("E0309", mode.span, "unknown rounding mode",
                   "the modes are half_even, half_up, half_down, up, down, ceiling and floor");
        return Fail(e);
      }
      Record(mode, ExprInfo{});
    }
    ExprInfo result;
    result.type = x.type;
    result.untyped = x.untyped;
    result.places = std::min(x.places, static_cast<int>(places.constant->i) + shift);
    ExprInfo folded = FoldCall(e, result);
    folded.places = result.places;
    return Record(e, folded);
  }

  // Does `round` of this type count places in percent points?
  bool PercentPoints(const Type& type) const {
    return ctx_.policy->edition >= 2 && type.kind == TypeKind::kPercent;
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo CallError(const ast::Expr& e, const char* code, const char* what,
                                             const char* help = "") {
    ctx_.Error(code, e.span, absl::StrCat(Quoted(e.text), " ", what), help);
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo NeedsNumber(const ast::Expr& e, const ExprInfo& x) {
    ctx_.Error("E0301", e.span, absl::StrCat(Quoted(e.text), " needs a number, found ", T(x.type)));
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE void UnknownFunction(const ast::Expr& e) {
    const bool edition2 = ctx_.policy->edition >= 2;
    const std::vector<std::string> functions =
        edition2 ? std::vector<std::string>{"min", "max", "abs", "round", "given", "percent"}
                 : std::vector<std::string>{"min", "max", "abs", "round"};
    const std::string mean = DidYouMean(e.text, functions);
    std::string help = absl::StrCat(
        mean, mean.empty() ? "" : " ", "the functions are ",
        edition2 ? "min, max, abs, round, given and percent" : "min, max, abs and round");
    if (!edition2 && (e.text == "given" || e.text == "percent")) {
      help = absl::StrCat(Quoted(e.text),
                          " is a function of edition 2: add `edition 2` to the "
                          "header (docs/language.md, Editions)");
    }
    ctx_.Error("E0209", e.span, absl::StrCat("unknown function ", Quoted(e.text)), help);
  }

  // Folds a call over constant arguments (min, max, abs, round).
  ExprInfo FoldCall(const ast::Expr& e, ExprInfo result) {
    std::vector<Value> args;
    for (const ast::ExprPtr& arg : e.args) {
      const ExprInfo* info = ctx_.policy->Info(arg.get());
      if (info == nullptr || !info->constant) {
        if (!(e.text == "round" && arg.get() == e.args.back().get() && e.args.size() == 3)) {
          result.constant.reset();
          return result;
        }
        continue;
      }
      args.push_back(Coerce(*info->constant, result.type));
    }
    if (e.text == "min" || e.text == "max") {
      Value best = args[0];
      for (const Value& v : args) {
        const int c = CompareValues(v, best);
        if ((e.text == "min" && c < 0) || (e.text == "max" && c > 0)) best = v;
      }
      result.constant = best;
    } else if (e.text == "abs") {
      Value v = args[0];
      if (v.kind == TypeKind::kInt) {
        v.i = v.i < 0 ? -v.i : v.i;
      } else {
        v.d = v.d.Abs();
      }
      result.constant = v;
    } else {
      result.constant.reset();  // rounding is folded by the compiler
    }
    return result;
  }

  ExprInfo CheckNot(const ast::Expr& e) {
    ExprInfo x = CheckExpr(*e.args[0], nullptr);
    return FinishNot(e, x);
  }

  ExprInfo CheckNegate(const ast::Expr& e, const Type* hint) {
    ExprInfo x = CheckExpr(*e.args[0], hint);
    return FinishNegate(e, x);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishNot(const ast::Expr& e, const ExprInfo& x) {
    if (x.type.is_error()) return Fail(e);
    if (x.type.kind != TypeKind::kBool) {
      ctx_.Error("E0303", e.args[0]->span,
                 absl::StrCat("`not` needs a condition (bool), found ", T(x.type)));
      return Fail(e);
    }
    ExprInfo r;
    r.type = x.type;
    if (x.constant) r.constant = Value::Bool(!x.constant->b);
    return Record(e, r);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishNegate(const ast::Expr& e, const ExprInfo& x) {
    if (x.type.is_error()) return Fail(e);
    if (!x.type.is_numeric()) {
      ctx_.Error("E0301", e.span, absl::StrCat("cannot negate a ", T(x.type)));
      return Fail(e);
    }
    ExprInfo r = x;
    r.symbol = {};
    if (x.constant) {
      absl::StatusOr<Value> v = Negate(*x.constant);
      if (v.ok()) {
        r.constant = *v;
      } else {
        r.constant.reset();
      }
    }
    return Record(e, r);
  }

  // The result type of arithmetic, or nullopt with `why` set.
  static std::optional<ExprInfo> ArithmeticType(Op op, const ExprInfo& a, const ExprInfo& b,
                                                std::string* why) {
    const TypeKind ka = a.type.kind;
    const TypeKind kb = b.type.kind;
    auto make = [&](TypeKind k) {
      ExprInfo r;
      r.type = Type::Of(k);
      r.untyped = a.untyped && b.untyped;
      return r;
    };
    if (ka == TypeKind::kDate || kb == TypeKind::kDate) {
      if (op == Op::kSub && ka == TypeKind::kDate && kb == TypeKind::kDate)
        return make(TypeKind::kInt);
      if ((op == Op::kAdd || op == Op::kSub) && ka == TypeKind::kDate && kb == TypeKind::kInt) {
        return make(TypeKind::kDate);
      }
      if (op == Op::kAdd && ka == TypeKind::kInt && kb == TypeKind::kDate)
        return make(TypeKind::kDate);
      *why = "dates take whole days: date + int, date - int, date - date";
      return std::nullopt;
    }
    if (!a.type.is_numeric() || !b.type.is_numeric()) return std::nullopt;
    // Untyped constants first take the other side's type.
    TypeKind x = ka;
    TypeKind y = kb;
    if (a.untyped && !b.untyped && (op == Op::kAdd || op == Op::kSub)) x = kb;
    if (b.untyped && !a.untyped && (op == Op::kAdd || op == Op::kSub)) y = ka;
    auto decimalish = [](TypeKind k) { return k == TypeKind::kDecimal || k == TypeKind::kInt; };
    switch (op) {
      case Op::kAdd:
      case Op::kSub:
        if (x == y) return make(x);
        if (decimalish(x) && decimalish(y)) return make(TypeKind::kDecimal);
        if (a.untyped && b.untyped) return make(TypeKind::kDecimal);
        return std::nullopt;
      case Op::kMul:
        if (x == TypeKind::kMoney && y == TypeKind::kMoney) {
          *why = "money times money has no meaning; multiply money by a percent or a number";
          return std::nullopt;
        }
        if (x == TypeKind::kMoney || y == TypeKind::kMoney) return make(TypeKind::kMoney);
        if (x == TypeKind::kPercent || y == TypeKind::kPercent) return make(TypeKind::kPercent);
        if (x == TypeKind::kInt && y == TypeKind::kInt) return make(TypeKind::kInt);
        return make(TypeKind::kDecimal);
      case Op::kDiv:
        if (x == y && (x == TypeKind::kMoney || x == TypeKind::kPercent))
          return make(TypeKind::kDecimal);
        if (x == TypeKind::kMoney && decimalish(y)) return make(TypeKind::kMoney);
        if (x == TypeKind::kMoney && y == TypeKind::kPercent) return make(TypeKind::kMoney);
        if (x == TypeKind::kPercent && decimalish(y)) return make(TypeKind::kPercent);
        if (decimalish(x) && decimalish(y)) return make(TypeKind::kDecimal);
        if (y == TypeKind::kMoney) {
          *why = "dividing by money only makes sense for money: money / money is a ratio";
        }
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  static const char* Verb(Op op) {
    switch (op) {
      case Op::kAdd:
        return "add";
      case Op::kSub:
        return "subtract";
      case Op::kMul:
        return "multiply";
      default:
        return "divide";
    }
  }

  // `given(x) and x > 0`, `not given(x) or x > 0`: the right operand is
  // read only when the left shows x given.
  ExprInfo CheckLogic(const ast::Expr& e) {
    ExprInfo a = CheckExpr(*e.args[0], nullptr);
    const size_t pushed = PushGiven(ctx_, *e.args[0], e.op == Op::kAnd);
    ExprInfo b = CheckExpr(*e.args[1], nullptr);
    PopGiven(ctx_, pushed);
    return FinishLogic(e, a, b);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishLogic(const ast::Expr& e, const ExprInfo& a,
                                               const ExprInfo& b) {
    const Op op = e.op;
    bool ok = !a.type.is_error() && !b.type.is_error();
    for (const auto* side : {&a, &b}) {
      if (!side->type.is_error() && side->type.kind != TypeKind::kBool) {
        ctx_.Error(
            "E0303", (side == &a ? e.args[0] : e.args[1])->span,
            absl::StrCat("`", ast::OpText(op), "` needs conditions (bool), found ", T(side->type)));
        ok = false;
      }
    }
    if (!ok) return Fail(e);
    ExprInfo r;
    r.type = Type::Of(TypeKind::kBool);
    if (a.constant && b.constant) {
      r.constant = Value::Bool(op == Op::kAnd ? a.constant->b && b.constant->b
                                              : a.constant->b || b.constant->b);
    }
    return Record(e, r);
  }

  ExprInfo CheckComparison(const ast::Expr& e) {
    if (RightFirst(*e.args[0], *e.args[1])) return CheckComparisonRightFirst(e);
    ExprInfo a = CheckExpr(*e.args[0], nullptr);
    ExprInfo b = CheckExpr(*e.args[1], HintFrom(a, nullptr));
    return FinishComparison(e, a, b);
  }

  ExprInfo CheckComparisonRightFirst(const ast::Expr& e) {
    ExprInfo b = CheckExpr(*e.args[1], nullptr);
    ExprInfo a = CheckExpr(*e.args[0], HintFrom(b, nullptr));
    return FinishComparison(e, a, b);
  }

  // How to write a comparison of two types that do not compare, when there
  // is a usual fix.
  static std::string CompareHelp(const ast::Expr& e, const ExprInfo& a, const ExprInfo& b,
                                 int edition) {
    if (a.type.kind == TypeKind::kEnum || b.type.kind == TypeKind::kEnum) {
      return "compare an enum value with a symbol of the same enum";
    }
    const bool a_percent = a.type.kind == TypeKind::kPercent;
    if (a_percent == (b.type.kind == TypeKind::kPercent)) return "";
    const ast::Expr& percent = *e.args[a_percent ? 0 : 1];
    const ast::Expr& other = *e.args[a_percent ? 1 : 0];
    const ExprInfo& other_info = a_percent ? b : a;
    const std::string op = ast::OpText(e.op);
    auto written = [&](const std::string& left, const std::string& right) {
      return a_percent ? absl::StrCat("`", right, " ", op, " ", left, "`")
                       : absl::StrCat("`", left, " ", op, " ", right, "`");
    };
    if (other_info.type.kind == TypeKind::kMoney) {
      // An amount against a share: the share of an amount. For `a - b` the
      // share is usually of `b` (a tolerance over a limit).
      const std::string base = other.kind == ast::ExprKind::kBinary && other.op == ast::Op::kSub &&
                                       other.args.size() == 2
                                   ? dsl::FormatExpr(*other.args[1])
                                   : "AMOUNT";
      return absl::StrCat(
          "a percent is a share of an amount: compare with the amount it is a "
          "share of times it, e.g. ",
          written(dsl::FormatExpr(other), absl::StrCat(base, " * ", dsl::FormatExpr(percent))));
    }
    if (other_info.type.kind == TypeKind::kDecimal) {
      // A ratio against a percent: the percent as the fraction it is.
      if (edition >= 2) {
        return absl::StrCat("a ratio is a decimal: read it as a percent with `percent`, ",
                            written(absl::StrCat("percent(", dsl::FormatExpr(other), ")"),
                                    dsl::FormatExpr(percent)));
      }
      const std::optional<Value>& constant = a_percent ? a.constant : b.constant;
      const std::string fraction =
          constant ? constant->AsDecimal().ToCanonicalString() : "the fraction";
      return absl::StrCat(
          "a ratio is a decimal and a percent is a fraction of 1: compare the "
          "ratio with the fraction, ",
          written(dsl::FormatExpr(other), fraction));
    }
    return "";
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishComparison(const ast::Expr& e, const ExprInfo& a,
                                                    const ExprInfo& b) {
    const Op op = e.op;
    if (a.type.is_error() || b.type.is_error()) return Fail(e);
    std::optional<ExprInfo> common = Unify(a, b);
    const bool equality = op == Op::kEq || op == Op::kNe;
    if (!common || (!equality && !common->type.is_ordered())) {
      ctx_.Error("E0302", e.span, absl::StrCat("cannot compare ", T(a.type), " with ", T(b.type)),
                 CompareHelp(e, a, b, ctx_.policy->edition));
      return Fail(e);
    }
    RatioAgainstPoints(e, a, b);
    ExprInfo r;
    r.type = Type::Of(TypeKind::kBool);
    if (a.constant && b.constant) {
      const int c =
          CompareValues(Coerce(*a.constant, common->type), Coerce(*b.constant, common->type));
      bool v = false;
      switch (op) {
        case Op::kEq:
          v = c == 0;
          break;
        case Op::kNe:
          v = c != 0;
          break;
        case Op::kLt:
          v = c < 0;
          break;
        case Op::kLe:
          v = c <= 0;
          break;
        case Op::kGt:
          v = c > 0;
          break;
        default:
          v = c >= 0;
          break;
      }
      r.constant = Value::Bool(v);
    }
    return Record(e, r);
  }

  // Is `e` a ratio of two amounts, money / money (directly, rounded, or as
  // a let)? `depth` bounds the lets followed.
  bool IsMoneyRatio(const ast::Expr& e, int depth = 0) const {
    const ExprInfo* info = ctx_.policy->Info(&e);
    if (info == nullptr || info->type.kind != TypeKind::kDecimal || depth > 8) return false;
    if (e.kind == ast::ExprKind::kBinary && e.op == Op::kDiv) {
      const ExprInfo* x = ctx_.policy->Info(e.args[0].get());
      const ExprInfo* y = ctx_.policy->Info(e.args[1].get());
      return x != nullptr && y != nullptr && x->type.kind == TypeKind::kMoney &&
             y->type.kind == TypeKind::kMoney;
    }
    if (e.kind == ast::ExprKind::kCall && e.text == "round" && !e.args.empty()) {
      return IsMoneyRatio(*e.args[0], depth + 1);
    }
    if (e.kind == ast::ExprKind::kName && info->symbol.kind == Symbol::Kind::kLet) {
      const size_t let = static_cast<size_t>(info->symbol.index);
      return let < ctx_.lets.size() && IsMoneyRatio(*ctx_.lets[let].decl->value, depth + 1);
    }
    return false;
  }

  // `points` percent points as the fraction they are: 105 -> "1.05".
  static std::string Fraction(const Decimal& points) {
    absl::StatusOr<Decimal> fraction = points.Div(Decimal::FromInt(100));
    return fraction.ok() ? fraction->ToCanonicalString() : "its hundredth";
  }

  // W0511: a ratio of amounts compared with a number of percent points
  // (`exposure / credit_limit > 105`), which means 105 times, not 105%.
  ABSL_ATTRIBUTE_NOINLINE void RatioAgainstPoints(const ast::Expr& e, const ExprInfo& a,
                                                  const ExprInfo& b) {
    for (int side = 0; side < 2; ++side) {
      const ExprInfo& number = side == 0 ? b : a;
      const ast::Expr& ratio = *e.args[side == 0 ? 0 : 1];
      if (!number.untyped || !number.constant) continue;
      const Decimal n = number.constant->AsDecimal().Abs();
      if (n < Decimal::FromInt(10) || !IsMoneyRatio(ratio)) continue;
      const std::string written = dsl::FormatExpr(ratio);
      const std::string points = number.constant->AsDecimal().ToCanonicalString();
      ctx_.Warning(
          "W0511", e.span,
          absl::StrCat(Quoted(written), " is a ratio, where 1 is the whole: compared with ", points,
                       " it means ", points, " times, not ", points, "%"),
          ctx_.policy->edition >= 2
              ? absl::StrCat("compare it as a percent: `percent(", written, ") ", ast::OpText(e.op),
                             " ", points, "%`")
              : absl::StrCat("compare it with the fraction: ", points, "% is ",
                             Fraction(number.constant->AsDecimal()),
                             "; or declare `edition 2` and write `percent(", written, ") ",
                             ast::OpText(e.op), " ", points, "%`"));
      return;
    }
  }

  ExprInfo CheckArithmetic(const ast::Expr& e, const Type* hint) {
    ExprInfo a = CheckExpr(*e.args[0], hint);
    ExprInfo b = CheckExpr(*e.args[1], hint);
    return FinishArithmetic(e, a, b);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishArithmetic(const ast::Expr& e, const ExprInfo& a,
                                                    const ExprInfo& b) {
    const Op op = e.op;
    if (a.type.is_error() || b.type.is_error()) return Fail(e);
    std::string why;
    std::optional<ExprInfo> result = ArithmeticType(op, a, b, &why);
    if (!result) {
      ctx_.Error(why.find("money times money") != std::string::npos ? "E0311" : "E0301", e.span,
                 absl::StrCat("cannot ", Verb(op), " ", T(a.type), " and ", T(b.type)), why);
      return Fail(e);
    }
    if (a.constant && b.constant) {
      const Type t = result->type;
      absl::StatusOr<Value> v =
          Arithmetic(op, Coerce(*a.constant, t.kind == TypeKind::kDate ? a.type : t),
                     Coerce(*b.constant, t.kind == TypeKind::kDate ? b.type : t),
                     op == Op::kDiv && t.kind == TypeKind::kInt ? TypeKind::kDecimal : t.kind);
      if (!v.ok()) {
        ctx_.Error(
            "E0306", e.span,
            absl::StrCat("this constant cannot be computed: ", std::string(v.status().message())));
        return Fail(e);
      }
      result->constant = *v;
    }
    result->places = ArithmeticPlaces(op, *result, a, b);
    return Record(e, *result);
  }

  static int ArithmeticPlaces(Op op, const ExprInfo& result, const ExprInfo& a, const ExprInfo& b) {
    if (result.constant) return ValuePlaces(*result.constant);
    if (result.type.kind == TypeKind::kInt || result.type.kind == TypeKind::kDate) return 0;
    switch (op) {
      case Op::kAdd:
      case Op::kSub:
        return std::max(a.places, b.places);
      case Op::kMul:
        return std::min(a.places + b.places, static_cast<int>(Decimal::kMaxScale));
      default:
        return Decimal::kMaxScale;
    }
  }

  ExprInfo CheckIn(const ast::Expr& e) {
    ExprInfo x = CheckExpr(*e.args[0], nullptr);
    if (x.type.is_error()) return Fail(e);
    if (e.interval != nullptr) return InResult(e, IntervalDomain(*e.interval, x.type).has_value());
    if (x.type.kind == TypeKind::kEnumSet) return SetInSet(e);
    bool ok = true;
    for (size_t i = 1; i < e.args.size(); ++i) {
      ExprInfo element = CheckExpr(*e.args[i], &x.type);
      if (!InElement(*e.args[i], element, x)) ok = false;
    }
    return InResult(e, ok);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo InResult(const ast::Expr& e, bool ok) {
    return ok ? Record(e, Typed(Type::Of(TypeKind::kBool))) : Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo SetInSet(const ast::Expr& e) {
    ctx_.Error("E0310", e.span, "`in` tests one value; a set is not a member of a set");
    return Fail(e);
  }

  // Can `element` be compared with the value `x` tested by `in`?
  ABSL_ATTRIBUTE_NOINLINE bool InElement(const ast::Expr& arg, const ExprInfo& element,
                                         const ExprInfo& x) {
    if (element.type.is_error()) return false;
    if (!Assignable(element, x.type) && !Unify(element, x)) {
      ctx_.Error("E0302", arg.span,
                 absl::StrCat("cannot compare ", T(x.type), " with ", T(element.type)));
      return false;
    }
    return true;
  }

  ExprInfo CheckIf(const ast::Expr& e, const Type* hint) {
    ExprInfo c = CheckExpr(*e.args[0], nullptr);
    if (!c.type.is_error() && c.type.kind != TypeKind::kBool) return IfNotBool(e, c);
    if (RightFirst(*e.args[1], *e.args[2])) return CheckIfRightFirst(e, c, hint);
    ExprInfo a = CheckBranch(e, true, hint);
    ExprInfo b = CheckBranch(e, false, HintFrom(a, hint));
    return FinishIf(e, c, a, b);
  }

  ExprInfo CheckIfRightFirst(const ast::Expr& e, const ExprInfo& c, const Type* hint) {
    ExprInfo b = CheckBranch(e, false, hint);
    ExprInfo a = CheckBranch(e, true, HintFrom(b, hint));
    return FinishIf(e, c, a, b);
  }

  // A branch of `if`, where the optional inputs the condition shows given
  // (when it is `then`, or not, for `else`) may be read.
  ExprInfo CheckBranch(const ast::Expr& e, bool then, const Type* hint) {
    const size_t pushed = PushGiven(ctx_, *e.args[0], then);
    ExprInfo x = CheckExpr(*e.args[then ? 1 : 2], hint);
    PopGiven(ctx_, pushed);
    return x;
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo IfNotBool(const ast::Expr& e, const ExprInfo& c) {
    ctx_.Error("E0303", e.args[0]->span,
               absl::StrCat("the condition of `if` must be bool, found ", T(c.type)));
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishIf(const ast::Expr& e, const ExprInfo& c,
                                            const ExprInfo& a, const ExprInfo& b) {
    if (c.type.is_error() || a.type.is_error() || b.type.is_error()) return Fail(e);
    std::optional<ExprInfo> common = Unify(a, b);
    if (!common) {
      ctx_.Error("E0301", e.span,
                 absl::StrCat("the branches of `if` give ", T(a.type), " and ", T(b.type)));
      return Fail(e);
    }
    ExprInfo r = *common;
    r.symbol = {};
    r.places = std::max(a.places, b.places);
    if (c.constant && a.constant && b.constant) {
      r.constant = Coerce(c.constant->b ? *a.constant : *b.constant, r.type);
    } else {
      r.constant.reset();
    }
    return Record(e, r);
  }

  ExprInfo CheckSetLiteral(const ast::Expr& e, const Type* hint) {
    const EnumType* element_type =
        hint != nullptr && hint->kind == TypeKind::kEnumSet ? hint->enum_type : nullptr;
    uint64_t bits = 0;
    for (const ast::ExprPtr& arg : e.args) {
      Type element_hint = Type::Enum(element_type);
      ExprInfo x = CheckExpr(*arg, element_type != nullptr ? &element_hint : nullptr);
      if (!SetElement(*arg, x, &element_type, &bits)) return Fail(e);
    }
    ExprInfo r;
    r.type = Type::Set(element_type);
    r.constant = Value::Set(bits);
    return Record(e, r);
  }

  // Adds a set literal's element to `bits`; false (reported) when it is not
  // a symbol of the set's enum, which the first element fixes.
  ABSL_ATTRIBUTE_NOINLINE bool SetElement(const ast::Expr& arg, const ExprInfo& x,
                                          const EnumType** element_type, uint64_t* bits) {
    if (x.type.is_error()) return false;
    if (x.type.kind != TypeKind::kEnum || !x.constant) {
      ctx_.Error("E0304", arg.span, "a set literal holds enum symbols");
      return false;
    }
    if (*element_type == nullptr) *element_type = x.type.enum_type;
    if (x.type.enum_type != *element_type) {
      ctx_.Error(
          "E0304", arg.span,
          absl::StrCat(Quoted(arg.text), " is not a symbol of ", Quoted((*element_type)->name)));
      return false;
    }
    *bits |= uint64_t{1} << x.constant->i;
    return true;
  }

  // Output values may read other outputs (their final values, after the
  // rules): checked here, then ordered (OrderOutputs) so each follows what
  // it reads.
  void OutputValues() {
    for (size_t i = 0; i < ctx_.policy->outputs.size(); ++i) {
      OutputInfo& out = ctx_.policy->outputs[i];
      if (out.decl->value == nullptr || out.type.is_error()) continue;
      ctx_.current_output = static_cast<int>(i);
      ExprInfo v = CheckExpr(*out.decl->value, &out.type);
      ctx_.current_output = -1;
      if (!v.type.is_error() && !Assignable(v, out.type)) {
        ctx_.Error("E0304", out.decl->value->span,
                   absl::StrCat("output ", Quoted(out.name), " is ", T(out.type), ", its value is ",
                                T(v.type)));
      } else {
        CheckPlacesFit(ctx_, v, out, *out.decl->value);
      }
    }
  }

 private:
  CheckContext& ctx_;
};

}  // namespace

namespace {

// Adds to ctx.given what `e` shows given when it is `holds`.
void AddGiven(CheckContext& ctx, const ast::Expr& e, bool holds) {
  switch (e.kind) {
    case ast::ExprKind::kCall: {
      if (!holds || e.text != "given" || e.args.size() != 1) return;
      const ExprInfo* info = ctx.policy->Info(e.args[0].get());
      if (info != nullptr && info->symbol.kind == Symbol::Kind::kInput) {
        ctx.given.push_back(info->symbol.index);
      }
      return;
    }
    case ast::ExprKind::kUnary:
      if (e.op == Op::kNot) AddGiven(ctx, *e.args[0], !holds);
      return;
    case ast::ExprKind::kBinary:
      if ((e.op == Op::kAnd && holds) || (e.op == Op::kOr && !holds)) {
        AddGiven(ctx, *e.args[0], holds);
        AddGiven(ctx, *e.args[1], holds);
      }
      return;
    default:
      return;
  }
}

}  // namespace

size_t PushGiven(CheckContext& ctx, const ast::Expr& condition, bool holds) {
  if (ctx.policy->edition < 2) return 0;
  const size_t before = ctx.given.size();
  AddGiven(ctx, condition, holds);
  return ctx.given.size() - before;
}

void CheckPlacesFit(CheckContext& ctx, const ExprInfo& value, const OutputInfo& out,
                    const ast::Expr& expr) {
  if (out.places < 0 || out.type.kind != TypeKind::kMoney || value.type.is_error()) return;
  if (value.places <= out.places) return;
  const std::string written = dsl::FormatExpr(expr);
  ctx.Error(
      "E0321", expr.span,
      absl::StrCat("output ", Quoted(out.name), " holds money to ", out.places, " decimal place",
                   out.places == 1 ? "" : "s", "; this value may have ",
                   value.places >= Decimal::kMaxScale ? "any number" : absl::StrCat(value.places)),
      absl::StrCat("round it where the policy says how: `round(",
                   written.size() > 60 ? "..." : written, ", ", out.places, ")`, or `round(..., ",
                   out.places, ", half_up)`"));
}

void CheckDefinitions(CheckContext& ctx) {
  ctx.let_infos.resize(ctx.lets.size());
  ctx.band_infos.resize(ctx.bands.size());
  ctx.table_infos.resize(ctx.tables.size());
  ctx.scorecard_infos.resize(ctx.scorecards.size());
  Typer typer(ctx);
  for (const Symbol& s : ctx.policy->definition_order) typer.Ensure(s);
}

void CheckInputRanges(CheckContext& ctx) { Typer(ctx).InputRanges(); }

void CheckOutputValues(CheckContext& ctx) { Typer(ctx).OutputValues(); }

ExprInfo CheckExpr(CheckContext& ctx, const ast::Expr& expr, const Type* hint) {
  return Typer(ctx).CheckExpr(expr, hint);
}

}  // namespace creditd::engine::check
