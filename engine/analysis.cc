// Static analysis over a checked policy: band, factor and table gaps and
// overlaps, unreachable rows, and rules that can never fire. It is exact for
// tests and conditions made of constants, comparisons, ranges, sets and
// boolean combinations of them; anything else is treated as "may be true"
// (so it never causes a false warning) and the analysis says nothing about it.
//
// Its work is counted, not timed: every set operation costs a unit per range
// it reads, every expression node visited a unit. Past
// CheckOptions::max_analysis_work the analysis stops and says where (W0507),
// so a policy gets the same verdict on every machine and a candidate sent
// for validation cannot make the server spend unbounded time.

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dsl/formatter.h"
#include "engine/ast_walk.h"
#include "engine/checker.h"
#include "engine/domain.h"
#include "engine/row_tests.h"

namespace creditd::engine {
namespace {

namespace ast = dsl::ast;
using ast::Op;

std::string Quoted(const std::string& name) { return absl::StrCat("`", name, "`"); }

// An example value in backticks, for messages.
std::string Shown(const std::optional<Value>& value, const Type& type) {
  return value ? Quoted(FormatValue(*value, type)) : "a value";
}

class Analyzer {
 public:
  Analyzer(const CheckedPolicy& policy, dsl::DiagnosticSink& sink, const CheckOptions& options)
      : policy_(policy), sink_(sink), options_(options) {}

  void Run() {
    for (const BandInfo& band : policy_.bands) Band(band);
    for (const ScorecardInfo& card : policy_.scorecards) {
      for (const GroupInfo& group : card.groups) {
        for (const FactorInfo& factor : group.factors) Factor(card, factor);
      }
    }
    for (const TableInfo& table : policy_.tables) Table(table);
    for (const RuleInfo& rule : policy_.rules) Rule(rule);
    Divisions();
    if (skipped_ > 0) {
      sink_.Warning("W0507", first_skipped_span_,
                    absl::StrCat("the analysis budget ran out before ", first_skipped_,
                                 skipped_ > 1 ? absl::StrCat(" and ", skipped_ - 1, " more") : "",
                                 ": not analysed"),
                    absl::StrCat("it ran out in ", stopped_in_,
                                 "; split large tables and bands, or simplify conditions"));
    }
  }

  // Work units spent so far.
  int64_t spent() const { return spent_; }

 private:
  // ----- the budget ---------------------------------------------------------

  // Spends `units`; false once the budget is spent (and from then on).
  bool Spend(int64_t units) {
    spent_ += units;
    return spent_ <= options_.max_analysis_work;
  }
  bool Spent() const { return spent_ > options_.max_analysis_work; }

  // A set operation reading `a` and `b`.
  static int64_t Cost(const Domain& a, const Domain& b) {
    return 1 + static_cast<int64_t>(a.ranges().size() + b.ranges().size());
  }

  // Starts the analysis of `what` (declared at `where`); false, and counted
  // as skipped, once the budget is spent.
  bool Begin(const std::string& what, const dsl::SourceSpan& where) {
    if (!Spent()) return true;
    if (skipped_++ == 0) {
      first_skipped_ = what;
      first_skipped_span_ = where;
    }
    return false;
  }

  // The budget ran out analysing `what` (at `where`); `place` says where in
  // it ("at row 12 of 4000 of").
  void RanOut(const std::string& what, const dsl::SourceSpan& where, const std::string& place) {
    stopped_in_ = what;
    sink_.Warning("W0507", where,
                  absl::StrCat("the analysis stopped ", place, " ", what,
                               ": the policy's analysis budget of ", options_.max_analysis_work,
                               " work units is spent"),
                  "what comes after was not checked for gaps, overlaps, unreachable rows or "
                  "rules that never fire; split it into smaller parts");
  }

  std::optional<Value> Constant(const ast::Expr& e, const Type& type) const {
    return ConstantOf(policy_, e, type);
  }
  std::optional<Domain> TestDomain(const ast::Test& test, const Type& type) const {
    return TestDomainOf(policy_, test, type);
  }
  std::optional<Domain> IntervalDomain(const ast::Interval& i, const Type& type) const {
    return IntervalDomainOf(policy_, i, type);
  }

  // The values an expression can take, as far as is known cheaply: an
  // input's declared range, a constant, a band's row values, a scorecard's
  // point range; otherwise everything of its type.
  Domain RangeOf(const ast::Expr& e, int depth = 0) {
    const ExprInfo* info = policy_.Info(&e);
    if (info == nullptr) return Domain::Empty(Type::Error());
    const Type& type = info->type;
    if (info->constant) return Domain::Point(type, *info->constant);
    if (depth > 16) return Domain::Full(type);
    switch (info->symbol.kind) {
      case Symbol::Kind::kInput:
        if (e.kind == ast::ExprKind::kName) {
          return policy_.inputs[static_cast<size_t>(info->symbol.index)].range;
        }
        break;
      case Symbol::Kind::kLet:
        if (e.kind == ast::ExprKind::kName) {
          const LetInfo& let = policy_.lets[static_cast<size_t>(info->symbol.index)];
          Domain d = RangeOf(*let.decl->value, depth + 1);
          if (d.type() == type) return d;
        }
        break;
      case Symbol::Kind::kBand:
        if (e.kind == ast::ExprKind::kName) {
          const BandInfo& band = policy_.bands[static_cast<size_t>(info->symbol.index)];
          std::vector<Value> values;
          Spend(static_cast<int64_t>(band.decl->rows.size()));
          for (const ast::Row& row : band.decl->rows) {
            std::optional<Value> v = Constant(*row.value, type);
            if (!v) return Domain::Full(type);
            values.push_back(*v);
          }
          return Domain::Points(type, values);
        }
        break;
      case Symbol::Kind::kScorecard:
        if (e.kind == ast::ExprKind::kMember) return ScoreRange(*info);
        break;
      case Symbol::Kind::kTable:
        // A column of constant cells takes those values, when the result is
        // one row's cell: not a sum of several (nor 0 when none matches),
        // nor a set of them.
        if (e.kind == ast::ExprKind::kMember && info->member >= 0) {
          const TableInfo& table = policy_.tables[static_cast<size_t>(info->symbol.index)];
          if (table.hit == HitPolicy::kCollect && table.aggregate != Aggregate::kMin &&
              table.aggregate != Aggregate::kMax) {
            return Domain::Full(type);
          }
          std::vector<Value> values;
          Spend(static_cast<int64_t>(table.decl->rows.size()));
          for (const ast::TableRow& row : table.decl->rows) {
            if (static_cast<size_t>(info->member) >= row.values.size()) return Domain::Full(type);
            std::optional<Value> v = Constant(*row.values[static_cast<size_t>(info->member)], type);
            if (!v) return Domain::Full(type);
            values.push_back(*v);
          }
          return Domain::Points(type, values);
        }
        break;
      default:
        break;
    }
    return Domain::Full(type);
  }

  // [min, max] of a scorecard's total, group or factor points.
  Domain ScoreRange(const ExprInfo& info) {
    const Type decimal = Type::Of(TypeKind::kDecimal);
    const ScorecardInfo& card = policy_.scorecards[static_cast<size_t>(info.symbol.index)];
    auto factor_range = [&](const FactorInfo& f, Decimal* lo, Decimal* hi) {
      Spend(static_cast<int64_t>(f.decl->rows.size()));
      bool first = true;
      for (const ast::Row& row : f.decl->rows) {
        std::optional<Value> v = Constant(*row.value, decimal);
        if (!v) return false;
        if (first || v->d < *lo) *lo = v->d;
        if (first || v->d > *hi) *hi = v->d;
        first = false;
      }
      return !first;
    };
    auto group_range = [&](const GroupInfo& g, Decimal* lo, Decimal* hi) {
      *lo = Decimal();
      *hi = Decimal();
      for (const FactorInfo& f : g.factors) {
        Decimal a, b;
        if (!factor_range(f, &a, &b)) return false;
        *lo = lo->Add(a).value_or(*lo);
        *hi = hi->Add(b).value_or(*hi);
      }
      return true;
    };
    Decimal lo, hi;
    bool ok = true;
    if (info.member_is_factor) {
      ok = factor_range(card.groups[static_cast<size_t>(info.member_group)]
                            .factors[static_cast<size_t>(info.member)],
                        &lo, &hi);
    } else if (info.member >= 0) {
      ok = group_range(card.groups[static_cast<size_t>(info.member)], &lo, &hi);
    } else {
      for (const GroupInfo& g : card.groups) {
        Decimal a, b;
        if (!group_range(g, &a, &b)) {
          ok = false;
          break;
        }
        lo = lo.Add(a.Mul(g.weight).value_or(a)).value_or(lo);
        hi = hi.Add(b.Mul(g.weight).value_or(b)).value_or(hi);
      }
    }
    if (!ok) return Domain::Full(decimal);
    return Domain::Between(decimal, Value::Dec(TypeKind::kDecimal, lo), true,
                           Value::Dec(TypeKind::kDecimal, hi), true);
  }

  // Gaps and overlaps of single-value rows (bands and scorecard factors):
  // every value in `domain` must match exactly one row.
  void Rows(const std::vector<ast::Row>& rows, const Type& type, const Domain& domain,
            const std::string& what, const dsl::SourceSpan& where) {
    std::vector<std::optional<Domain>> tests;
    for (const ast::Row& row : rows) tests.push_back(TestDomain(row.test, type));
    Domain covered = Domain::Empty(type);
    bool exact = true;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!tests[i]) {
        exact = false;
        continue;
      }
      if (!Spend(Cost(*tests[i], domain))) return RanOut(what, where, RowsDone(i, rows.size()));
      const Domain mine = tests[i]->Intersect(domain);
      if (mine.empty()) {
        sink_.Warning("W0506", rows[i].span,
                      absl::StrCat("this row of ", what, " never matches: ",
                                   "its values lie outside ", domain.ToString()));
        continue;
      }
      for (size_t j = 0; j < i; ++j) {
        if (!tests[j]) continue;
        if (!Spend(Cost(mine, *tests[j]))) return RanOut(what, where, RowsDone(i, rows.size()));
        if (mine.Overlaps(*tests[j])) {
          const Domain both = mine.Intersect(*tests[j]);
          sink_.Error("E0402", rows[i].span,
                      absl::StrCat("rows ", j + 1, " and ", i + 1, " of ", what,
                                   " overlap: both match ", Shown(both.Example(), type)),
                      absl::StrCat("they share ", both.ToString(),
                                   "; make the ranges meet without overlapping, e.g. `< x` "
                                   "then `>= x`"));
          break;
        }
      }
      if (!Spend(Cost(covered, mine))) return RanOut(what, where, RowsDone(i, rows.size()));
      covered = covered.Union(mine);
    }
    if (!exact) return;
    if (!Spend(2 * Cost(domain, covered))) return RanOut(what, where, "before the gaps of");
    const Domain gap = domain.Minus(covered);
    if (!gap.empty()) {
      sink_.Error("E0401", where,
                  absl::StrCat(what, " has a gap: no row matches ", Shown(gap.Example(), type)),
                  absl::StrCat("uncovered: ", gap.ToString(), " (the value ranges over ",
                               domain.ToString(), ")"));
    }
  }

  // "at row 12 of 4000 of", for RanOut.
  // "row 1", "rows 1 and 3", "rows 1, 2 and 4".
  static std::string RowList(const std::vector<size_t>& rows) {
    if (rows.size() == 1) return absl::StrCat("row ", rows[0]);
    std::string out = "rows ";
    for (size_t k = 0; k < rows.size(); ++k) {
      absl::StrAppend(&out, k == 0 ? "" : (k + 1 == rows.size() ? " and " : ", "), rows[k]);
    }
    return out;
  }

  static std::string RowsDone(size_t done, size_t rows) {
    return absl::StrCat("at row ", done + 1, " of ", rows, " of");
  }

  void Band(const BandInfo& band) {
    if (band.subject_type.is_error()) return;
    const std::string what = absl::StrCat("band ", Quoted(band.name));
    if (!Begin(what, band.decl->name.span)) return;
    Rows(band.decl->rows, band.subject_type, RangeOf(*band.decl->subject), what,
         band.decl->name.span);
  }

  void Factor(const ScorecardInfo& card, const FactorInfo& factor) {
    if (factor.subject_type.is_error()) return;
    const std::string what =
        absl::StrCat("factor ", Quoted(factor.subject), " of scorecard ", Quoted(card.name));
    if (!Begin(what, factor.decl->subject.span)) return;
    Domain domain = Domain::Full(factor.subject_type);
    const int input = policy_.FindInput(factor.subject);
    if (input >= 0) domain = policy_.inputs[static_cast<size_t>(input)].range;
    Rows(factor.decl->rows, factor.subject_type, domain, what, factor.decl->subject.span);
  }

  // ----- tables: boxes over the condition columns ---------------------------

  using Box = std::vector<Domain>;

  static bool Empty(const Box& box) {
    for (const Domain& d : box) {
      if (d.empty()) return true;
    }
    return false;
  }

  static Box Intersect(const Box& a, const Box& b) {
    Box r;
    for (size_t i = 0; i < a.size(); ++i) r.push_back(a[i].Intersect(b[i]));
    return r;
  }

  // An operation on boxes `a` and `b`, column by column.
  static int64_t Cost(const Box& a, const Box& b) {
    int64_t units = 0;
    for (size_t i = 0; i < a.size(); ++i) units += Cost(a[i], b[i]);
    return units;
  }

  // Do boxes `a` and `b` share a point? Costs `units` (one per range read,
  // stopping at the first column they do not share).
  static bool Overlaps(const Box& a, const Box& b, int64_t* units) {
    for (size_t i = 0; i < a.size(); ++i) {
      *units += Cost(a[i], b[i]);
      if (!a[i].Overlaps(b[i])) return false;
    }
    return true;
  }

  // a \ b as disjoint boxes. Costs `units`: a copy when they do not
  // overlap, else about six set operations per column.
  static void Subtract(const Box& a, const Box& b, std::vector<Box>* out, int64_t* units) {
    if (!Overlaps(a, b, units)) {
      *units += static_cast<int64_t>(a.size());
      out->push_back(a);
      return;
    }
    *units += 6 * Cost(a, b);
    Box prefix = a;
    for (size_t i = 0; i < a.size(); ++i) {
      Box piece = prefix;
      piece[i] = a[i].Minus(b[i]);
      if (!Empty(piece)) out->push_back(std::move(piece));
      prefix[i] = a[i].Intersect(b[i]);
      if (prefix[i].empty()) return;
    }
  }

  enum class Removed { kDone, kTooManyBoxes, kBudgetSpent };

  // Removes `cut` from every box in `boxes`, unless the pieces grow past
  // max_analysis_boxes (memory) or the work past the budget.
  Removed Remove(std::vector<Box>* boxes, const Box& cut) {
    std::vector<Box> next;
    for (const Box& box : *boxes) {
      int64_t units = 0;
      Subtract(box, cut, &next, &units);
      if (!Spend(units)) return Removed::kBudgetSpent;
      if (static_cast<int>(next.size()) > options_.max_analysis_boxes) {
        return Removed::kTooManyBoxes;
      }
    }
    *boxes = std::move(next);
    return Removed::kDone;
  }

  std::string Example(const Box& box, const TableInfo& table) const {
    std::vector<std::string> parts;
    for (size_t c = 0; c < box.size(); ++c) {
      std::optional<Value> v = box[c].Example();
      parts.push_back(absl::StrCat(ColumnName(table, c), " = ",
                                   v ? FormatValue(*v, table.input_types[c]) : "?"));
    }
    return Quoted(absl::StrJoin(parts, ", "));
  }

  static std::string ColumnName(const TableInfo& table, size_t c) {
    const ast::Expr& e = *table.decl->inputs[c];
    if (e.kind == ast::ExprKind::kName) return e.text;
    if (e.kind == ast::ExprKind::kMember && e.args[0]->kind == ast::ExprKind::kName) {
      return absl::StrCat(e.args[0]->text, ".", e.text);
    }
    return absl::StrCat("column ", c + 1);
  }

  void Table(const TableInfo& table) {
    const ast::TableDecl& decl = *table.decl;
    for (const Type& t : table.input_types) {
      if (t.is_error()) return;
    }
    const std::string name = absl::StrCat("table ", Quoted(table.name));
    if (!Begin(name, decl.name.span)) return;
    Box domain;
    for (const ast::ExprPtr& e : decl.inputs) domain.push_back(RangeOf(*e));
    std::vector<std::optional<Box>> rows;
    for (const ast::TableRow& row : decl.rows) {
      if (row.tests.size() != decl.inputs.size()) return;
      Box box;
      bool exact = true;
      for (size_t c = 0; c < row.tests.size(); ++c) {
        std::optional<Domain> d = TestDomain(row.tests[c], table.input_types[c]);
        if (!d) {
          exact = false;
          break;
        }
        box.push_back(d->Intersect(domain[c]));
      }
      rows.push_back(exact ? std::optional<Box>(box) : std::nullopt);
    }
    const std::string what = absl::StrCat("table ", Quoted(table.name));
    bool exact = true;
    std::vector<Box> uncovered = {domain};
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i]) {
        exact = false;
        continue;
      }
      const Box& box = *rows[i];
      if (Empty(box)) {
        sink_.Warning("W0506", decl.rows[i].span,
                      absl::StrCat("row ", i + 1, " of ", what,
                                   " never matches: it lies outside the values its columns "
                                   "can take"));
        continue;
      }
      if (table.hit == HitPolicy::kUnique) {
        for (size_t j = 0; j < i; ++j) {
          if (!rows[j]) continue;
          int64_t units = 0;
          const bool overlap = Overlaps(box, *rows[j], &units);
          if (!Spend(units)) return RanOut(name, decl.name.span, RowsDone(i, rows.size()));
          if (overlap) {
            const Box both = Intersect(box, *rows[j]);
            sink_.Error(
                "E0402", decl.rows[i].span,
                absl::StrCat("rows ", j + 1, " and ", i + 1, " of ", what,
                             " overlap under `hit unique`: both match ", Example(both, table)),
                "make the rows exclusive, or use `hit first` to let the first one win");
            break;
          }
        }
      }
      if (table.hit == HitPolicy::kFirst && exact) {
        // Unreachable: everything it matches is matched by earlier rows.
        std::vector<Box> rest = {box};
        std::vector<size_t> hiding;  // the earlier rows that take some of its values
        Removed removed = Removed::kDone;
        for (size_t j = 0; j < i && removed == Removed::kDone && !rest.empty(); ++j) {
          if (!rows[j] || Empty(*rows[j])) continue;
          int64_t units = 0;
          const bool takes = std::any_of(rest.begin(), rest.end(), [&](const Box& part) {
            return Overlaps(part, *rows[j], &units);
          });
          if (!Spend(units)) return RanOut(name, decl.name.span, RowsDone(i, rows.size()));
          if (!takes) continue;
          hiding.push_back(j + 1);
          removed = Remove(&rest, *rows[j]);
        }
        if (removed != Removed::kDone) return Stop(removed, name, decl, i, rows.size());
        if (rest.empty()) {
          sink_.Warning(
              "W0502", decl.rows[i].span,
              absl::StrCat("row ", i + 1, " of ", what, " is unreachable: ", RowList(hiding),
                           hiding.size() == 1 ? " matches" : " match", " everything it does"),
              "under `hit first` the first matching row wins; move it up or remove it");
        }
      }
      if (Removed removed = Remove(&uncovered, box); removed != Removed::kDone) {
        return Stop(removed, name, decl, i, rows.size());
      }
    }
    const bool gaps_matter = table.hit != HitPolicy::kCollect ||
                             table.aggregate == Aggregate::kMin ||
                             table.aggregate == Aggregate::kMax;
    if (exact && gaps_matter && !uncovered.empty()) {
      sink_.Error("E0401", decl.name.span,
                  absl::StrCat(what, " has a gap: no row matches ", Example(uncovered[0], table)),
                  "add a row for it, or a last row of `any` cells as the default");
    }
  }

  // The table analysis stopped at row `row`: too many pieces, or no budget.
  void Stop(Removed why, const std::string& name, const ast::TableDecl& decl, size_t row,
            size_t rows) {
    if (why == Removed::kBudgetSpent) return RanOut(name, decl.name.span, RowsDone(row, rows));
    sink_.Warning(
        "W0507", decl.name.span,
        absl::StrCat("table ", Quoted(decl.name.name),
                     " is too large to analyse for gaps and overlaps"),
        absl::StrCat("its rows split the values into more than ", options_.max_analysis_boxes,
                     " pieces by row ", row + 1, "; split it into smaller tables"));
  }

  // ----- division by a value that may be 0 ---------------------------------

  static bool IsDivision(const ast::Expr& e) {
    return e.kind == ast::ExprKind::kBinary && e.op == ast::Op::kDiv && e.args.size() == 2;
  }

  // The names an expression reads (a member's table or scorecard by name).
  static absl::flat_hash_set<std::string> NamesIn(const ast::Expr& e) {
    absl::flat_hash_set<std::string> names;
    walk::Nodes({&e}, [&names](const ast::Expr& node) {
      if (node.kind == ast::ExprKind::kName) names.insert(node.text);
    });
    return names;
  }

  static bool Mentions(const ast::Expr& e, const absl::flat_hash_set<std::string>& names) {
    bool found = false;
    walk::Nodes({&e}, [&](const ast::Expr& node) {
      if (node.kind == ast::ExprKind::kName && names.contains(node.text)) found = true;
    });
    return found;
  }

  // Marks the divisions below `guarded_roots` whose divisor reads a value
  // `condition` tests: a division the policy guards (`if x > 0 then a / x`,
  // `x > 0 and a / x > 2`, a rule `when x > 0` dividing by x).
  // Each node it visits costs a work unit: nested ifs and long `and`
  // chains visit some nodes many times.
  void Guard(const ast::Expr& condition, const std::vector<const ast::Expr*>& guarded_roots,
             absl::flat_hash_set<const ast::Expr*>* guarded) {
    if (Spent()) return;
    const absl::flat_hash_set<std::string> tested = NamesIn(condition);
    int64_t visited = static_cast<int64_t>(tested.size());
    walk::Nodes(guarded_roots, [&](const ast::Expr& d) {
      ++visited;
      if (IsDivision(d) && Mentions(*d.args[1], tested)) guarded->insert(&d);
    });
    Spend(visited);
  }

  // Whether a divisor may be 0, as far as its range is known.
  bool MayBeZero(const ast::Expr& divisor) {
    if (divisor.kind == ast::ExprKind::kCall && divisor.text == "max") {
      // max(x, 0.01) is never 0 when one argument is always above 0.
      for (const ast::ExprPtr& arg : divisor.args) {
        const Domain d = RangeOf(*arg);
        if (d.type().is_error() || d.empty()) continue;
        if (!d.ranges().front().low.infinite && !d.ranges().front().low.value.is_negative() &&
            !d.ContainsValue(Decimal())) {
          return false;
        }
      }
    }
    const Domain d = RangeOf(divisor);
    return !d.type().is_error() && d.type().is_numeric() && d.ContainsValue(Decimal());
  }

  void Divisions() {
    const ast::File& main = *policy_.program->files.front();
    for (const ast::Declaration& declaration : main.declarations) {
      if (Spent()) return;
      std::vector<const ast::Expr*> roots;
      walk::Roots(declaration, [&roots](const ast::Expr& e) { roots.push_back(&e); });
      absl::flat_hash_set<const ast::Expr*> guarded;
      if (const auto* rule = std::get_if<ast::RuleDecl>(&declaration);
          rule != nullptr && rule->condition != nullptr) {
        std::vector<const ast::Expr*> effects;
        for (const ast::Effect& effect : rule->effects) {
          if (effect.value != nullptr) effects.push_back(effect.value.get());
        }
        Guard(*rule->condition, effects, &guarded);
      }
      walk::Nodes(roots, [&](const ast::Expr& e) {
        Spend(1);
        if (e.kind == ast::ExprKind::kIf && e.args.size() == 3) {
          Guard(*e.args[0], {e.args[1].get(), e.args[2].get()}, &guarded);
        } else if (e.kind == ast::ExprKind::kBinary &&
                   (e.op == ast::Op::kAnd || e.op == ast::Op::kOr) && e.args.size() == 2) {
          Guard(*e.args[0], {e.args[1].get()}, &guarded);
        }
      });
      if (Spent()) return;
      std::vector<const ast::Expr*> risky;
      walk::Nodes(roots, [&](const ast::Expr& e) {
        if (IsDivision(e) && !guarded.contains(&e) && MayBeZero(*e.args[1])) risky.push_back(&e);
      });
      // In the order written.
      std::sort(risky.begin(), risky.end(), [](const ast::Expr* a, const ast::Expr* b) {
        return std::make_pair(a->span.line, a->span.column) <
               std::make_pair(b->span.line, b->span.column);
      });
      for (const ast::Expr* e : risky) {
        const std::string divisor = dsl::FormatExpr(*e->args[1]);
        sink_.Warning("W0509", e->args[1]->span,
                      absl::StrCat("`", divisor,
                                   "` may be 0 here: dividing by it would stop the "
                                   "decision with an error"),
                      absl::StrCat("give what it reads a range without 0, or guard the division: "
                                   "`if ",
                                   divisor, " != 0 then ... else ...`"));
      }
    }
  }

  // ----- rules: can the condition ever be true? ----------------------------

  // A conjunction: variable -> allowed values. Variables are keyed by the
  // symbol they name (input, let, band, scorecard member).
  struct Conjunction {
    // By name: the analysis visits them, and names the first impossible one,
    // in the same order on every run.
    std::map<std::string, Domain> vars;
  };
  using Dnf = std::vector<Conjunction>;
  static constexpr size_t kMaxConjunctions = 256;

  // A key and domain for an expression that names a value; nullopt otherwise.
  std::optional<std::string> VariableKey(const ast::Expr& e) const {
    const ExprInfo* info = policy_.Info(&e);
    if (info == nullptr || info->constant) return std::nullopt;
    if (e.kind == ast::ExprKind::kName &&
        (info->symbol.kind == Symbol::Kind::kInput || info->symbol.kind == Symbol::Kind::kLet ||
         info->symbol.kind == Symbol::Kind::kBand)) {
      return e.text;
    }
    if (e.kind == ast::ExprKind::kMember && info->symbol.kind == Symbol::Kind::kScorecard) {
      return absl::StrCat(e.args[0]->text, ".", e.text);
    }
    return std::nullopt;
  }

  static Dnf Always() { return Dnf{Conjunction{}}; }

  Dnf Atom(const std::string& key, const Domain& allowed) const {
    Conjunction c;
    c.vars.emplace(key, allowed);
    return Dnf{c};
  }

  static Op Flip(Op op) {
    switch (op) {
      case Op::kLt:
        return Op::kGt;
      case Op::kLe:
        return Op::kGe;
      case Op::kGt:
        return Op::kLt;
      case Op::kGe:
        return Op::kLe;
      default:
        return op;
    }
  }

  static Op Negated(Op op) {
    switch (op) {
      case Op::kLt:
        return Op::kGe;
      case Op::kLe:
        return Op::kGt;
      case Op::kGt:
        return Op::kLe;
      case Op::kGe:
        return Op::kLt;
      case Op::kEq:
        return Op::kNe;
      case Op::kNe:
        return Op::kEq;
      default:
        return op;
    }
  }

  ABSL_ATTRIBUTE_NOINLINE std::optional<Dnf> And(const Dnf& a, const Dnf& b) {
    Dnf out;
    for (const Conjunction& x : a) {
      for (const Conjunction& y : b) {
        if (!Spend(1 + static_cast<int64_t>(x.vars.size() + y.vars.size()))) return std::nullopt;
        Conjunction c = x;
        for (const auto& [key, domain] : y.vars) {
          auto it = c.vars.find(key);
          if (it == c.vars.end()) {
            c.vars.emplace(key, domain);
          } else {
            it->second = it->second.Intersect(domain);
          }
        }
        out.push_back(std::move(c));
        if (out.size() > kMaxConjunctions) return std::nullopt;
      }
    }
    return out;
  }

  // The condition `e` (negated when `negate`) in disjunctive normal form;
  // nullopt when it grows past the limit (then nothing is concluded). It
  // recurses through `and`, `or` and `not` only, at most
  // ParseOptions::max_depth deep, with small frames: the work on each node
  // is done in helpers.
  std::optional<Dnf> ToDnf(const ast::Expr& e, bool negate) {
    if (!Spend(1)) return std::nullopt;
    const ExprInfo* info = policy_.Info(&e);
    if (info != nullptr && info->constant && info->constant->kind == TypeKind::kBool) {
      return ConstantDnf(info->constant->b != negate);
    }
    if (e.kind == ast::ExprKind::kUnary && e.op == Op::kNot) return ToDnf(*e.args[0], !negate);
    if (e.kind == ast::ExprKind::kBinary && (e.op == Op::kAnd || e.op == Op::kOr)) {
      return LogicDnf(e, negate);
    }
    return AtomDnf(e, negate);
  }

  ABSL_ATTRIBUTE_NOINLINE static std::optional<Dnf> ConstantDnf(bool value) {
    if (value) return Always();
    return Dnf{};
  }

  std::optional<Dnf> LogicDnf(const ast::Expr& e, bool negate) {
    std::optional<Dnf> a = ToDnf(*e.args[0], negate);
    if (!a) return std::nullopt;
    std::optional<Dnf> b = ToDnf(*e.args[1], negate);
    return Combine(e.op, negate, &*a, &b);
  }

  // `a` and `b`, or `a` or `b` (after De Morgan when negated); nullopt when
  // `b` is, or when the result grows past the limit.
  ABSL_ATTRIBUTE_NOINLINE std::optional<Dnf> Combine(Op op, bool negate, Dnf* a,
                                                     std::optional<Dnf>* b) {
    if (!*b) return std::nullopt;
    // De Morgan: a negated `and` is an `or` of the negations.
    const bool conjunction = (op == Op::kAnd) != negate;
    if (conjunction) return And(*a, **b);
    a->insert(a->end(), (*b)->begin(), (*b)->end());
    if (a->size() > kMaxConjunctions) return std::nullopt;
    return std::move(*a);
  }

  // A condition other than `and`, `or` and `not`: an atom over one
  // variable when it is one, otherwise "may be true".
  ABSL_ATTRIBUTE_NOINLINE std::optional<Dnf> AtomDnf(const ast::Expr& e, bool negate) {
    const ExprInfo* info = policy_.Info(&e);
    switch (e.kind) {
      case ast::ExprKind::kBinary: {
        Op op = e.op;
        const ast::Expr* var = e.args[0].get();
        const ast::Expr* bound = e.args[1].get();
        std::optional<std::string> key = VariableKey(*var);
        if (!key) {
          std::swap(var, bound);
          key = VariableKey(*var);
          op = Flip(op);
        }
        if (!key) break;
        const ExprInfo* var_info = policy_.Info(var);
        std::optional<Value> v = Constant(*bound, var_info->type);
        if (!v) break;
        if (negate) op = Negated(op);
        return Atom(*key, Domain::Compare(var_info->type, ast::OpText(op), *v));
      }
      case ast::ExprKind::kIn: {
        std::optional<std::string> key = VariableKey(*e.args[0]);
        if (!key) break;
        const Type& type = policy_.Info(e.args[0].get())->type;
        std::optional<Domain> d;
        if (e.interval != nullptr) {
          d = IntervalDomain(*e.interval, type);
        } else {
          std::vector<Value> values;
          for (size_t i = 1; i < e.args.size(); ++i) {
            std::optional<Value> v = Constant(*e.args[i], type);
            if (!v) break;
            values.push_back(*v);
          }
          if (values.size() + 1 == e.args.size()) d = Domain::Points(type, values);
        }
        if (!d) break;
        const bool inside = (e.op == Op::kIn) != negate;
        return Atom(*key, inside ? *d : d->Complement());
      }
      case ast::ExprKind::kName:
      case ast::ExprKind::kMember: {
        std::optional<std::string> key = VariableKey(e);
        if (key && info != nullptr && info->type.kind == TypeKind::kBool) {
          return Atom(*key, Domain::Point(info->type, Value::Bool(!negate)));
        }
        break;
      }
      default:
        break;
    }
    return Always();  // not analysable: may be true either way
  }

  // The declared values of every variable `root` reads, by key: looked up
  // once per rule, visiting each node once.
  absl::flat_hash_map<std::string, Domain> Declared(const ast::Expr& root) {
    absl::flat_hash_map<std::string, Domain> declared;
    std::vector<const ast::Expr*> stack = {&root};
    while (!stack.empty()) {
      const ast::Expr* e = stack.back();
      stack.pop_back();
      Spend(1);
      std::optional<std::string> key = VariableKey(*e);
      if (key && !declared.contains(*key)) declared.emplace(*key, RangeOf(*e));
      for (const ast::ExprPtr& arg : e->args) stack.push_back(arg.get());
    }
    return declared;
  }

  void Rule(const RuleInfo& rule) {
    const ast::Expr& condition = *rule.decl->condition;
    const std::string what = absl::StrCat("rule ", Quoted(rule.id));
    if (!Begin(what, rule.decl->id.span)) return;
    std::optional<Dnf> dnf = ToDnf(condition, false);
    if (Spent()) return RanOut(what, rule.decl->id.span, "in the condition of");
    if (!dnf) {
      sink_.Warning("W0507", rule.decl->id.span,
                    absl::StrCat("the condition of rule ", Quoted(rule.id), " has more than ",
                                 kMaxConjunctions, " cases; whether it can fire was not analysed"),
                    "split it into rules with simpler conditions");
      return;
    }
    const absl::flat_hash_map<std::string, Domain> declared = Declared(condition);
    std::string reason;
    for (const Conjunction& c : *dnf) {
      bool possible = true;
      for (const auto& [key, allowed] : c.vars) {
        auto it = declared.find(key);
        const Domain range = it != declared.end() ? it->second : Domain::Full(allowed.type());
        if (!Spend(Cost(allowed, range)))
          return RanOut(what, rule.decl->id.span, "in the condition of");
        if (allowed.Intersect(range).empty()) {
          possible = false;
          if (reason.empty()) {
            reason = allowed.empty()
                         ? absl::StrCat("the condition asks contradictory things of ", Quoted(key))
                         : absl::StrCat(Quoted(key), " can only be ", range.ToString(),
                                        ", but the condition needs ", allowed.ToString());
          }
          break;
        }
      }
      if (possible) return;
    }
    sink_.Warning("W0503", rule.decl->id.span,
                  absl::StrCat("rule ", Quoted(rule.id), " can never fire"),
                  reason.empty() ? "its condition is always false" : reason);
  }

  const CheckedPolicy& policy_;
  dsl::DiagnosticSink& sink_;
  const CheckOptions& options_;
  int64_t spent_ = 0;
  std::string stopped_in_;  // what the budget ran out in
  int skipped_ = 0;         // declarations not analysed after that
  std::string first_skipped_;
  dsl::SourceSpan first_skipped_span_;
};

}  // namespace

int64_t Analyze(const CheckedPolicy& policy, dsl::DiagnosticSink& sink,
                const CheckOptions& options) {
  Analyzer analyzer(policy, sink, options);
  analyzer.Run();
  return analyzer.spent();
}

}  // namespace creditd::engine
