// Static analysis over a checked policy: band, factor and table gaps and
// overlaps, unreachable rows, and rules that can never fire. It is exact for
// tests and conditions made of constants, comparisons, ranges, sets and
// boolean combinations of them; anything else is treated as "may be true"
// (so it never causes a false warning) and the analysis says nothing about it.
// Conditions, and table rows whose columns depend on one another, also
// follow what a band, a boolean let or a table result is made of (see
// "conditions" below).
//
// Its work is counted, not timed: every set operation costs a unit per range
// it reads, every expression node visited (or let inlined) a unit. Past
// CheckOptions::max_analysis_work the analysis stops and says where (W0507),
// so a policy gets the same verdict on every machine and a candidate sent
// for validation cannot make the server spend unbounded time.

#include <algorithm>
#include <iterator>
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
    const bool related = ColumnsRelated(table);
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
      std::string reason;
      switch (related ? RowPossible(table, box, &reason) : Verdict::kPossible) {
        case Verdict::kPossible:
          break;
        case Verdict::kBudgetSpent:
          return RanOut(name, decl.name.span, RowsDone(i, rows.size()));
        case Verdict::kImpossible:
          // Its values are no values the columns take together: they are
          // covered, and overlap nothing that can happen.
          sink_.Warning("W0506", decl.rows[i].span,
                        absl::StrCat("row ", i + 1, " of ", what, " never matches: ",
                                     reason.empty() ? "its columns never take these values together"
                                                    : reason));
          if (Removed removed = Remove(&uncovered, box); removed != Removed::kDone) {
            return Stop(removed, name, decl, i, rows.size());
          }
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

  // ----- conditions: can they ever be true? -------------------------------
  //
  // A condition becomes a disjunction of conjunctions; a conjunction asks of
  // some variables (inputs, bands, lets, scorecard and table members, by
  // name) that each take a value in a set. Where it is exact, the analysis
  // also follows what a value is made of:
  //  - a let that is only another value's name is that value;
  //  - a test on a band also asks its subject (when that is a variable) to
  //    lie in the rows whose value passes the test, down a chain of bands;
  //  - a boolean let used as a condition stands for its definition;
  //  - a test on a result of a `hit first`, `unique` or `priority` table
  //    asks its condition columns (those that are variables) to lie where a
  //    row whose result passes the test is the row that gives it.
  // Each only ever adds what must hold when the condition is true, so a
  // condition found impossible is impossible.

  // What a conjunction asks of one variable: the values it allows, and the
  // lets, bands and tables it asks that through, sorted ("band `ladder`"),
  // to name them when the values are impossible.
  struct Asked {
    Domain values;
    std::vector<std::string> via;
  };

  struct Conjunction {
    // By name: the analysis visits them, and names the first impossible one,
    // in the same order on every run.
    std::map<std::string, Asked> vars;
  };
  using Dnf = std::vector<Conjunction>;
  static constexpr size_t kMaxConjunctions = 256;
  // A chain of lets that name one another, or of bands on bands, is
  // followed this far.
  static constexpr int kMaxChain = 16;
  // A boolean let is inlined where the condition is at most this deep
  // (`and`, `or` and `not` levels above it): what it stands for is at most
  // ParseOptions::max_depth deeper, which bounds the recursion.
  static constexpr int kMaxInlineDepth = 32;
  // Lets inlined in one condition, however they nest.
  static constexpr int kMaxInlines = 64;
  // A table result is followed into the table's conditions for tables of at
  // most this many rows, into at most this many pieces of their values.
  static constexpr size_t kMaxFollowedRows = 256;
  static constexpr size_t kMaxTablePieces = 64;
  // The work all tables' rows may take to be followed, of the policy's
  // budget: past it, results are no longer followed into tables.
  static constexpr int64_t kMaxFollowWork = 1'000'000;

  // Spends `units` on following tables; false once the budget or the
  // allowance for following is spent.
  bool SpendFollowing(int64_t units) {
    follow_work_ += units;
    return Spend(units) && follow_work_ <= kMaxFollowWork;
  }

  static void AddVia(std::vector<std::string>* into, const std::vector<std::string>& more) {
    if (more.empty()) return;
    std::vector<std::string> merged;
    std::set_union(into->begin(), into->end(), more.begin(), more.end(),
                   std::back_inserter(merged));
    *into = std::move(merged);
  }

  // Asks `values` of `key` in `c`, as well as what `c` asks of it already.
  static void Ask(Conjunction* c, const std::string& key, const Domain& values,
                  const std::vector<std::string>& via) {
    auto it = c->vars.find(key);
    if (it == c->vars.end()) {
      c->vars.emplace(key, Asked{values, via});
      return;
    }
    it->second.values = it->second.values.Intersect(values);
    AddVia(&it->second.via, via);
  }

  // A value a condition tests, as a variable of the analysis.
  struct Variable {
    std::string key;
    const ast::Expr* expr = nullptr;  // the name or member `key` stands for
    const ExprInfo* info = nullptr;   // what the checker learned about `expr`
    std::vector<std::string> via;     // the lets followed to it, sorted
  };

  // The key of a name or member that is a variable; nullopt otherwise.
  std::optional<std::string> KeyOf(const ast::Expr& e, const ExprInfo& info) const {
    const Symbol::Kind kind = info.symbol.kind;
    if (e.kind == ast::ExprKind::kName &&
        (kind == Symbol::Kind::kInput || kind == Symbol::Kind::kLet ||
         kind == Symbol::Kind::kBand)) {
      return e.text;
    }
    if (e.kind != ast::ExprKind::kMember || e.args.empty()) return std::nullopt;
    const bool table = kind == Symbol::Kind::kTable && info.member >= 0 &&
                       (info.type.is_ordered() || info.type.kind == TypeKind::kBool);
    if (kind == Symbol::Kind::kScorecard || table) {
      return absl::StrCat(e.args[0]->text, ".", e.text);
    }
    return std::nullopt;
  }

  // The variable `e` is, following lets that are only another value's name
  // (of the same type) when following dependencies; nullopt when `e` is
  // none.
  std::optional<Variable> VariableOf(const ast::Expr& e) {
    Variable var;
    var.expr = &e;
    for (int step = 0;; ++step) {
      var.info = policy_.Info(var.expr);
      if (var.info == nullptr || var.info->constant) return std::nullopt;
      if (!follow_ || step >= kMaxChain || var.expr->kind != ast::ExprKind::kName ||
          var.info->symbol.kind != Symbol::Kind::kLet) {
        break;
      }
      const LetInfo& let = policy_.lets[static_cast<size_t>(var.info->symbol.index)];
      const ast::Expr* value = let.decl != nullptr ? let.decl->value.get() : nullptr;
      if (value == nullptr ||
          (value->kind != ast::ExprKind::kName && value->kind != ast::ExprKind::kMember)) {
        break;
      }
      const ExprInfo* value_info = policy_.Info(value);
      if (value_info == nullptr || value_info->constant || value_info->type != var.info->type) {
        break;
      }
      Spend(1);
      followed_ = true;
      AddVia(&var.via, {absl::StrCat("let ", Quoted(let.name))});
      var.expr = value;
    }
    std::optional<std::string> key = KeyOf(*var.expr, *var.info);
    if (!key) return std::nullopt;
    var.key = *std::move(key);
    return var;
  }

  // The values `var` can take, worked out once per policy: a key always
  // names the same value.
  void NoteRange(const Variable& var) {
    if (!ranges_.contains(var.key)) ranges_.emplace(var.key, RangeOf(*var.expr));
  }

  // Asks `values` of `var` in `c`; when `var` is a band whose subject is a
  // variable, asks the subject to lie in the rows that give such values,
  // and so on down a chain of bands.
  void Constrain(Conjunction* c, const Variable& var, const Domain& values,
                 std::vector<std::string> via) {
    AddVia(&via, var.via);
    NoteRange(var);
    Ask(c, var.key, values, via);
    if (!follow_) return;
    Variable band_var = var;
    Domain asked = values;
    for (int step = 0; step < kMaxChain; ++step) {
      if (band_var.expr->kind != ast::ExprKind::kName ||
          band_var.info->symbol.kind != Symbol::Kind::kBand) {
        return;
      }
      const BandInfo& band = policy_.bands[static_cast<size_t>(band_var.info->symbol.index)];
      std::optional<Variable> subject = VariableOf(*band.decl->subject);
      if (!subject || subject->info->type != band.subject_type) return;
      std::optional<Domain> reach = Reach(band, asked);
      if (!reach) return;
      followed_ = true;
      AddVia(&via, {absl::StrCat("band ", Quoted(band.name))});
      AddVia(&via, subject->via);
      NoteRange(*subject);
      Ask(c, subject->key, *reach, via);
      band_var = *std::move(subject);
      asked = *std::move(reach);
    }
  }

  // The subject values of the rows of `band` whose value may be in
  // `values` (a row whose value is no constant may be); nullopt when such a
  // row's test is not made of constants.
  std::optional<Domain> Reach(const BandInfo& band, const Domain& values) {
    if (!band.type.is_ordered() && band.type.kind != TypeKind::kBool) return std::nullopt;
    Domain reach = Domain::Empty(band.subject_type);
    if (!Spend(static_cast<int64_t>(band.decl->rows.size()))) return std::nullopt;
    for (const ast::Row& row : band.decl->rows) {
      if (std::optional<Value> v = Constant(*row.value, band.type)) {
        const Domain point = Domain::Point(band.type, *v);
        if (!Spend(Cost(point, values))) return std::nullopt;
        if (!point.Overlaps(values)) continue;
      }
      std::optional<Domain> test = TestDomain(row.test, band.subject_type);
      if (!test) return std::nullopt;
      if (!Spend(Cost(reach, *test))) return std::nullopt;
      reach = reach.Union(*test);
    }
    return reach;
  }

  // Where each row of a table gives its results: the row's own box of
  // condition column values, less (under `hit first`) the earlier rows'
  // boxes, as disjoint boxes; worked out for a row when first needed.
  struct Followed {
    bool usable = false;
    Box domain;                                         // the columns' values
    std::vector<Box> boxes;                             // each row's tests, within `domain`
    std::vector<char> exact;                            // the row's tests are all constants
    std::vector<std::optional<std::vector<Box>>> wins;  // by row, once known
  };

  // Table `t` ready to follow; null when it is not followed (collect, too
  // many rows, a column of the error type, the work for following spent).
  Followed* FollowedTable(int t) {
    auto [it, inserted] = followed_tables_.try_emplace(t);
    Followed& f = it->second;
    if (!inserted) return f.usable && follow_work_ <= kMaxFollowWork ? &f : nullptr;
    const TableInfo& table = policy_.tables[static_cast<size_t>(t)];
    const ast::TableDecl& decl = *table.decl;
    if (table.hit == HitPolicy::kCollect || decl.rows.size() > kMaxFollowedRows) return nullptr;
    for (const Type& type : table.input_types) {
      if (type.is_error()) return nullptr;
    }
    for (const ast::ExprPtr& e : decl.inputs) f.domain.push_back(RangeOf(*e));
    for (const ast::TableRow& row : decl.rows) {
      if (row.tests.size() != decl.inputs.size()) return nullptr;
      Box box;
      bool exact = true;
      for (size_t c = 0; c < row.tests.size(); ++c) {
        std::optional<Domain> d = TestDomain(row.tests[c], table.input_types[c]);
        if (!d) {
          exact = false;
          box.push_back(f.domain[c]);
          continue;
        }
        if (!SpendFollowing(Cost(*d, f.domain[c]))) return nullptr;
        box.push_back(d->Intersect(f.domain[c]));
      }
      f.boxes.push_back(std::move(box));
      f.exact.push_back(exact ? 1 : 0);
    }
    f.wins.resize(decl.rows.size());
    f.usable = true;
    return &f;
  }

  // Where row `i` of `table` gives the results: its box, less the earlier
  // rows' under `hit first` (as far as kMaxTablePieces pieces allow; an
  // earlier row not made of constants is not taken away); null when the
  // budget, or the work for following, is spent.
  const std::vector<Box>* Wins(const TableInfo& table, Followed* f, size_t i) {
    if (f->wins[i]) return &*f->wins[i];
    std::vector<Box> wins = {f->boxes[i]};
    if (table.hit == HitPolicy::kFirst) {
      for (size_t j = 0; j < i && !wins.empty(); ++j) {
        if (!f->exact[j]) continue;
        std::vector<Box> rest;
        int64_t units = 0;
        for (const Box& part : wins) Subtract(part, f->boxes[j], &rest, &units);
        if (!SpendFollowing(units)) return nullptr;
        if (rest.size() > kMaxTablePieces) break;
        wins = std::move(rest);
      }
    }
    f->wins[i] = std::move(wins);
    return &*f->wins[i];
  }

  // The cases of `c`, which asks `values` of `var`, a result of a table:
  // one per piece of the condition columns' values where a row whose
  // result may be in `values` gives it; just `c` when that is not known.
  Dnf TableCases(const Conjunction& c, const Variable& var, const Domain& values,
                 const std::vector<std::string>& via) {
    const int t = var.info->symbol.index;
    const TableInfo& table = policy_.tables[static_cast<size_t>(t)];
    const ast::TableDecl& decl = *table.decl;
    Followed* f = FollowedTable(t);
    if (f == nullptr) return Dnf{c};
    std::vector<std::optional<Variable>> columns;
    bool any_column = false;
    for (size_t k = 0; k < decl.inputs.size(); ++k) {
      std::optional<Variable> column = VariableOf(*decl.inputs[k]);
      if (column && column->info->type != table.input_types[k]) column.reset();
      any_column = any_column || column.has_value();
      columns.push_back(std::move(column));
    }
    std::vector<std::string> table_via = via;
    AddVia(&table_via, {absl::StrCat("table ", Quoted(table.name))});
    const size_t member = static_cast<size_t>(var.info->member);
    Dnf out;
    if (!Spend(static_cast<int64_t>(decl.rows.size()))) return Dnf{c};
    for (size_t i = 0; i < decl.rows.size(); ++i) {
      const ast::TableRow& row = decl.rows[i];
      if (member >= row.values.size()) return Dnf{c};
      if (std::optional<Value> v = Constant(*row.values[member], var.info->type)) {
        const Domain point = Domain::Point(var.info->type, *v);
        if (!Spend(Cost(point, values))) return Dnf{c};
        if (!point.Overlaps(values)) continue;
      }
      const std::vector<Box>* wins = Wins(table, f, i);
      if (wins == nullptr) return Dnf{c};
      if (wins->empty()) continue;
      if (!any_column) return Dnf{c};  // it may give such a result, nothing more is known
      for (const Box& box : *wins) {
        Conjunction piece = c;
        for (size_t k = 0; k < columns.size(); ++k) {
          if (columns[k]) Constrain(&piece, *columns[k], box[k], table_via);
        }
        out.push_back(std::move(piece));
        if (out.size() > kMaxTablePieces) return Dnf{c};
      }
    }
    followed_ = true;
    if (!out.empty()) return out;
    auto range = ranges_.find(var.key);
    if (range != ranges_.end() && !values.Overlaps(range->second)) {
      return Dnf{c};  // no row gives such results: their values say so
    }
    // Rows give such results, but none of them is ever the row that gives
    // them: say so of the result.
    Conjunction never = c;
    Ask(&never, var.key, Domain::Empty(values.type()), table_via);
    return Dnf{never};
  }

  // `var` takes a value in `values`, and what that means for what it is
  // made of.
  Dnf VarDnf(const Variable& var, const Domain& values) {
    std::vector<std::string> via = via_;
    std::sort(via.begin(), via.end());
    via.erase(std::unique(via.begin(), via.end()), via.end());
    Conjunction c;
    Constrain(&c, var, values, via);
    if (follow_ && var.expr->kind == ast::ExprKind::kMember &&
        var.info->symbol.kind == Symbol::Kind::kTable) {
      return TableCases(c, var, values, via);
    }
    return Dnf{c};
  }

  static Dnf Always() { return Dnf{Conjunction{}}; }

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
        for (const auto& [key, asked] : y.vars) Ask(&c, key, asked.values, asked.via);
        out.push_back(std::move(c));
        if (out.size() > kMaxConjunctions) return std::nullopt;
      }
    }
    return out;
  }

  // The condition `e` (negated when `negate`) in disjunctive normal form;
  // nullopt when it grows past the limit (then nothing is concluded). It
  // recurses through `and`, `or`, `not` and inlined lets only, `depth`
  // levels down so far, at most ParseOptions::max_depth deep plus
  // kMaxInlineDepth, with small frames: the work on each node is done in
  // helpers.
  std::optional<Dnf> ToDnf(const ast::Expr& e, bool negate, int depth) {
    if (!Spend(1)) return std::nullopt;
    const ExprInfo* info = policy_.Info(&e);
    if (info != nullptr && info->constant && info->constant->kind == TypeKind::kBool) {
      return ConstantDnf(info->constant->b != negate);
    }
    if (e.kind == ast::ExprKind::kUnary && e.op == Op::kNot) {
      return ToDnf(*e.args[0], !negate, depth + 1);
    }
    if (e.kind == ast::ExprKind::kBinary && (e.op == Op::kAnd || e.op == Op::kOr)) {
      return LogicDnf(e, negate, depth);
    }
    if (const LetInfo* let = InlinedLet(e, &negate, depth)) return Inline(*let, negate, depth);
    return AtomDnf(e, negate);
  }

  ABSL_ATTRIBUTE_NOINLINE static std::optional<Dnf> ConstantDnf(bool value) {
    if (value) return Always();
    return Dnf{};
  }

  std::optional<Dnf> LogicDnf(const ast::Expr& e, bool negate, int depth) {
    std::optional<Dnf> a = ToDnf(*e.args[0], negate, depth + 1);
    if (!a) return std::nullopt;
    std::optional<Dnf> b = ToDnf(*e.args[1], negate, depth + 1);
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

  // The boolean let `e` names, when the analysis follows dependencies and
  // the bounds allow: `explained`, or `explained = false` (which flips
  // `*negate`); null otherwise.
  ABSL_ATTRIBUTE_NOINLINE const LetInfo* InlinedLet(const ast::Expr& e, bool* negate, int depth) {
    if (!follow_ || depth >= kMaxInlineDepth || inlines_ >= kMaxInlines) return nullptr;
    const ast::Expr* name = &e;
    bool flip = false;
    if (e.kind == ast::ExprKind::kBinary && (e.op == Op::kEq || e.op == Op::kNe) &&
        e.args.size() == 2) {
      name = e.args[0].get();
      const ast::Expr* other = e.args[1].get();
      if (name->kind != ast::ExprKind::kName) std::swap(name, other);
      std::optional<Value> v = Constant(*other, Type::Of(TypeKind::kBool));
      if (!v || v->kind != TypeKind::kBool) return nullptr;
      flip = !v->b != (e.op == Op::kNe);
    }
    if (name->kind != ast::ExprKind::kName) return nullptr;
    const ExprInfo* info = policy_.Info(name);
    if (info == nullptr || info->constant || info->symbol.kind != Symbol::Kind::kLet ||
        info->type.kind != TypeKind::kBool) {
      return nullptr;
    }
    const LetInfo& let = policy_.lets[static_cast<size_t>(info->symbol.index)];
    if (let.decl == nullptr || let.decl->value == nullptr) return nullptr;
    if (flip) *negate = !*negate;
    return &let;
  }

  // The condition boolean let `let` stands for, in place of its name.
  ABSL_ATTRIBUTE_NOINLINE std::optional<Dnf> Inline(const LetInfo& let, bool negate, int depth) {
    ++inlines_;
    followed_ = true;
    via_.push_back(absl::StrCat("let ", Quoted(let.name)));
    std::optional<Dnf> dnf = ToDnf(*let.decl->value, negate, depth + 1);
    via_.pop_back();
    return dnf;
  }

  // A condition other than `and`, `or` and `not`: a test of one variable
  // when it is one, otherwise "may be true".
  ABSL_ATTRIBUTE_NOINLINE std::optional<Dnf> AtomDnf(const ast::Expr& e, bool negate) {
    const ExprInfo* info = policy_.Info(&e);
    switch (e.kind) {
      case ast::ExprKind::kBinary: {
        Op op = e.op;
        const ast::Expr* var = e.args[0].get();
        const ast::Expr* bound = e.args[1].get();
        std::optional<Variable> variable = VariableOf(*var);
        if (!variable) {
          std::swap(var, bound);
          variable = VariableOf(*var);
          op = Flip(op);
        }
        if (!variable) break;
        const Type& type = policy_.Info(var)->type;
        std::optional<Value> v = Constant(*bound, type);
        if (!v) break;
        if (negate) op = Negated(op);
        return VarDnf(*variable, Domain::Compare(type, ast::OpText(op), *v));
      }
      case ast::ExprKind::kIn: {
        std::optional<Variable> variable = VariableOf(*e.args[0]);
        if (!variable) break;
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
        return VarDnf(*variable, inside ? *d : d->Complement());
      }
      case ast::ExprKind::kName:
      case ast::ExprKind::kMember: {
        if (info == nullptr || info->type.kind != TypeKind::kBool) break;
        std::optional<Variable> variable = VariableOf(e);
        if (variable) return VarDnf(*variable, Domain::Point(info->type, Value::Bool(!negate)));
        break;
      }
      default:
        break;
    }
    return Always();  // not analysable: may be true either way
  }

  // Starts a condition's analysis: following dependencies or not.
  void Reset(bool follow) {
    follow_ = follow;
    followed_ = false;
    inlines_ = 0;
    via_.clear();
  }

  // " (through band `ladder` and let `explained`)", or "".
  static std::string Through(const std::vector<std::string>& via) {
    if (via.empty()) return "";
    std::string out = " (through ";
    for (size_t k = 0; k < via.size(); ++k) {
      absl::StrAppend(&out, k == 0 ? "" : (k + 1 == via.size() ? " and " : ", "), via[k]);
    }
    return out + ")";
  }

  enum class Verdict { kPossible, kImpossible, kBudgetSpent };

  // Can some conjunction of `dnf` hold, given the values its variables can
  // take? When none can, `*reason` says why the first one cannot: of its
  // impossible variables, the one asked through the fewest lets, bands and
  // tables, then the first by name.
  Verdict Possible(const Dnf& dnf, const std::string& subject, std::string* reason) {
    for (const Conjunction& c : dnf) {
      const std::pair<const std::string, Asked>* impossible = nullptr;
      std::optional<Domain> impossible_range;
      for (const auto& entry : c.vars) {
        const Asked& asked = entry.second;
        auto it = ranges_.find(entry.first);
        const Domain range = it != ranges_.end() ? it->second : Domain::Full(asked.values.type());
        if (!Spend(Cost(asked.values, range))) return Verdict::kBudgetSpent;
        if (asked.values.Overlaps(range)) continue;
        if (impossible == nullptr || asked.via.size() < impossible->second.via.size()) {
          impossible = &entry;
          impossible_range = range;
        }
        if (!reason->empty()) break;
      }
      if (impossible == nullptr) return Verdict::kPossible;
      if (!reason->empty()) continue;
      const std::string& key = impossible->first;
      const Asked& asked = impossible->second;
      *reason = asked.values.empty()
                    ? absl::StrCat(subject, " asks contradictory things of ", Quoted(key))
                    : absl::StrCat(Quoted(key), " can only be ", impossible_range->ToString(),
                                   ", but ", subject, " needs ", asked.values.ToString());
      *reason += Through(asked.via);
    }
    return Verdict::kImpossible;
  }

  // Can the columns of `table` depend on one another, so that a row may ask
  // impossible things of them together? When two columns are, or are bands
  // on, one variable, or a column is a boolean test or let, or a table's
  // result. (Otherwise each row was checked exactly with its box.)
  bool ColumnsRelated(const TableInfo& table) {
    Reset(/*follow=*/true);
    absl::flat_hash_set<std::string> seen;
    for (const ast::ExprPtr& column : table.decl->inputs) {
      const ExprInfo* info = policy_.Info(column.get());
      if (info == nullptr) continue;
      std::optional<Variable> var = VariableOf(*column);
      if (!var) {
        if (info->type.kind == TypeKind::kBool) return true;
        continue;
      }
      if (var->expr->kind == ast::ExprKind::kMember &&
          var->info->symbol.kind == Symbol::Kind::kTable) {
        return true;
      }
      if (var->info->symbol.kind == Symbol::Kind::kLet && info->type.kind == TypeKind::kBool) {
        return true;
      }
      for (int step = 0; var && step < kMaxChain; ++step) {
        if (!seen.insert(var->key).second) return true;
        if (var->expr->kind != ast::ExprKind::kName ||
            var->info->symbol.kind != Symbol::Kind::kBand) {
          break;
        }
        var =
            VariableOf(*policy_.bands[static_cast<size_t>(var->info->symbol.index)].decl->subject);
      }
    }
    return false;
  }

  // Can a row of `table` whose tests are `box` match, given what its
  // condition columns are made of (a band and its own subject, a boolean let
  // or test and the values it reads)? When not, `*reason` says why.
  // Columns that are independent variables were checked with the box.
  Verdict RowPossible(const TableInfo& table, const Box& box, std::string* reason) {
    Reset(/*follow=*/true);
    std::vector<Dnf> columns;
    bool derived = false;  // a column is more than an independent variable
    for (size_t c = 0; c < box.size(); ++c) {
      const ast::Expr& column = *table.decl->inputs[c];
      const ExprInfo* info = policy_.Info(&column);
      if (info == nullptr) continue;
      const bool variable =
          (column.kind == ast::ExprKind::kName && info->symbol.kind != Symbol::Kind::kLet) ||
          column.kind == ast::ExprKind::kMember;
      std::optional<Dnf> d;
      if (!variable && info->type.kind == TypeKind::kBool) {
        // `true` or `false` only: the test the column is, or its negation.
        const bool can_be_true = box[c].ContainsValue(Decimal::FromInt(1));
        if (can_be_true == box[c].ContainsValue(Decimal::FromInt(0))) continue;
        d = ToDnf(column, /*negate=*/!can_be_true, 0);
        derived = true;
      } else if (std::optional<Variable> var = VariableOf(column);
                 var && var->info->type == table.input_types[c]) {
        d = VarDnf(*var, box[c]);
      } else {
        continue;
      }
      if (!d) return Spent() ? Verdict::kBudgetSpent : Verdict::kPossible;
      columns.push_back(*std::move(d));
    }
    if (Spent()) return Verdict::kBudgetSpent;
    if (!(derived || followed_)) return Verdict::kPossible;
    std::optional<Dnf> dnf = Always();
    for (const Dnf& d : columns) {
      dnf = And(*dnf, d);
      if (!dnf) return Spent() ? Verdict::kBudgetSpent : Verdict::kPossible;
    }
    return Possible(*dnf, "it", reason);
  }

  void Rule(const RuleInfo& rule) {
    const ast::Expr& condition = *rule.decl->condition;
    const std::string what = absl::StrCat("rule ", Quoted(rule.id));
    if (!Begin(what, rule.decl->id.span)) return;
    Reset(/*follow=*/true);
    std::optional<Dnf> dnf = ToDnf(condition, false, 0);
    if (Spent()) return RanOut(what, rule.decl->id.span, "in the condition of");
    if (!dnf && followed_) {
      // What it is made of multiplied the cases past the limit: the
      // condition as written may still be analysed.
      Reset(/*follow=*/false);
      dnf = ToDnf(condition, false, 0);
      if (Spent()) return RanOut(what, rule.decl->id.span, "in the condition of");
    }
    if (!dnf) {
      sink_.Warning("W0507", rule.decl->id.span,
                    absl::StrCat("the condition of rule ", Quoted(rule.id), " has more than ",
                                 kMaxConjunctions, " cases; whether it can fire was not analysed"),
                    "split it into rules with simpler conditions");
      return;
    }
    std::string reason;
    switch (Possible(*dnf, "the condition", &reason)) {
      case Verdict::kPossible:
        return;
      case Verdict::kBudgetSpent:
        return RanOut(what, rule.decl->id.span, "in the condition of");
      case Verdict::kImpossible:
        break;
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
  // The condition being analysed (Reset): whether it follows dependencies,
  // whether it did, the lets inlined, and the lets it is inside of.
  bool follow_ = true;
  bool followed_ = false;
  int inlines_ = 0;
  std::vector<std::string> via_;
  // The values each variable can take, by key (NoteRange).
  absl::flat_hash_map<std::string, Domain> ranges_;
  // The tables whose results conditions follow, by index, and the work
  // spent on them.
  std::map<int, Followed> followed_tables_;
  int64_t follow_work_ = 0;
};

}  // namespace

int64_t Analyze(const CheckedPolicy& policy, dsl::DiagnosticSink& sink,
                const CheckOptions& options) {
  Analyzer analyzer(policy, sink, options);
  analyzer.Run();
  return analyzer.spent();
}

}  // namespace creditd::engine
