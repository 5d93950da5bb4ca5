#include "engine/checker.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "engine/arithmetic.h"
#include "engine/ast_walk.h"

namespace creditd::engine {

namespace {

int Lookup(const absl::flat_hash_map<std::string, int>& index, const std::string& name) {
  auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

}  // namespace

int CheckedPolicy::FindReason(const std::string& code) const { return Lookup(reason_index, code); }

int CheckedPolicy::FindOutput(const std::string& output_name) const {
  return Lookup(output_index, output_name);
}

int CheckedPolicy::FindInput(const std::string& input_name) const {
  return Lookup(input_index, input_name);
}

namespace {

namespace ast = dsl::ast;
using ast::Op;
using dsl::SourceSpan;

std::string Quoted(const std::string& name) { return absl::StrCat("`", name, "`"); }

// A type's name in backticks, for messages.
std::string T(const Type& type) { return Quoted(TypeName(type)); }

bool IsComparison(Op op) {
  return op == Op::kEq || op == Op::kNe || op == Op::kLt || op == Op::kLe || op == Op::kGt ||
         op == Op::kGe;
}

const char* CompareText(Op op) { return ast::OpText(op); }

// Where a declaration was first made, for "declared twice" help.
std::string Where(const dsl::SourceSet& sources, const SourceSpan& span) {
  if (!span.known()) return "elsewhere";
  return absl::StrCat(sources.file(span.file).path(), ":", span.line, ":", span.column);
}

class Checker {
 public:
  Checker(std::unique_ptr<Program> program, dsl::DiagnosticSink& sink, const CheckOptions& options)
      : sink_(sink), options_(options), policy_(std::make_unique<CheckedPolicy>()) {
    policy_->program = std::move(program);
  }

 private:
  // ----- declarations and names -------------------------------------------

  enum class State { kUnchecked, kChecking, kDone };

  template <typename Decl>
  struct Pending {
    const Decl* decl;
    State state = State::kUnchecked;
  };

  void Error(const char* code, const SourceSpan& span, std::string message, std::string help = "") {
    sink_.Error(code, span, std::move(message), std::move(help));
  }
  void Warning(const char* code, const SourceSpan& span, std::string message,
               std::string help = "") {
    sink_.Warning(code, span, std::move(message), std::move(help));
  }

  const dsl::SourceSet& sources() const { return policy_->program->sources; }

  void CheckHeader(const ast::File& file) {
    const ast::Header& header = file.header;
    policy_->is_library = header.is_library;
    policy_->name = header.name.name;
    absl::flat_hash_map<std::string, const ast::HeaderField*> seen;
    for (const ast::HeaderField& field : header.fields) {
      const std::string& key = field.key.name;
      if (key != "version" && key != "effective" && key != "owner" && key != "description") {
        Error("E0102", field.key.span, absl::StrCat("unknown header field ", Quoted(key)),
              "the header fields are version, effective, owner and description");
        continue;
      }
      if (!seen.emplace(key, &field).second) {
        Error("E0104", field.key.span,
              absl::StrCat("header field ", Quoted(key), " is given twice"));
        continue;
      }
      using Kind = ast::HeaderField::Kind;
      if (key == "version") {
        if (field.kind != Kind::kVersion) {
          Error("E0103", field.span, "`version` must be a semantic version such as 1.0.0");
        }
        policy_->version = field.value;
      } else if (key == "effective") {
        if (field.kind != Kind::kDate || !ParseDate(field.value).ok()) {
          Error("E0103", field.span, "`effective` must be a calendar date such as 2026-01-01");
        }
        policy_->effective = field.value;
      } else if (field.kind != Kind::kString) {
        Error("E0103", field.span, absl::StrCat(Quoted(key), " must be a quoted text"));
      } else if (key == "owner") {
        policy_->owner = field.value;
      } else {
        policy_->description = field.value;
      }
    }
    if (!header.is_library) {
      for (const char* required : {"version", "effective"}) {
        if (!seen.contains(required)) {
          Error("E0101", header.name.span,
                absl::StrCat("policy ", Quoted(header.name.name), " has no `", required, "`"),
                std::string(required) == "version"
                    ? "add `version 1.0.0` under the policy line"
                    : "add `effective 2026-01-01` under the policy line");
        }
      }
    }
  }

  // Registers a value name (input, let, band, table, scorecard).
  void DeclareValue(const ast::Ident& ident, Symbol symbol) {
    auto [it, fresh] = values_.emplace(ident.name, std::make_pair(symbol, ident.span));
    if (!fresh) {
      Error("E0202", ident.span, absl::StrCat(Quoted(ident.name), " is declared twice"),
            absl::StrCat("first declared at ", Where(sources(), it->second.second)));
    }
  }

  void Collect(const ast::File& file, bool main) {
    if (!main && !file.header.is_library) {
      // Find the import that brought it in, for the span.
      Error("E0106", file.header.span,
            absl::StrCat(Quoted(file.header.name.name),
                         " is a policy and cannot be imported; only libraries can"),
            "change `policy` to `library` in the imported file, or import a library instead");
    }
    for (const ast::Declaration& d : file.declarations) {
      if (file.header.is_library &&
          (std::holds_alternative<ast::OutputDecl>(d) || std::holds_alternative<ast::RuleDecl>(d) ||
           std::holds_alternative<ast::OutcomeDecl>(d))) {
        Error("E0105", ast::SpanOf(d),
              "a library holds shared definitions only: outputs, rules and the outcome belong "
              "in a policy");
        continue;
      }
      if (const auto* e = std::get_if<ast::EnumDecl>(&d)) {
        auto [it, fresh] = enum_decls_.emplace(e->name.name, e);
        if (!fresh) {
          Error("E0202", e->name.span, absl::StrCat(Quoted(e->name.name), " is declared twice"),
                absl::StrCat("first declared at ", Where(sources(), it->second->name.span)));
        } else {
          enum_order_.push_back(e);
        }
      } else if (const auto* r = std::get_if<ast::ReasonDecl>(&d)) {
        reason_decls_.push_back(r);
      } else if (const auto* in = std::get_if<ast::InputDecl>(&d)) {
        DeclareValue(in->name, {Symbol::Kind::kInput, static_cast<int>(input_decls_.size())});
        input_decls_.push_back(in);
      } else if (const auto* out = std::get_if<ast::OutputDecl>(&d)) {
        output_decls_.push_back(out);
      } else if (const auto* oc = std::get_if<ast::OutcomeDecl>(&d)) {
        if (outcome_decl_ != nullptr) {
          Error("E0202", oc->span, "the outcome is declared twice",
                absl::StrCat("first declared at ", Where(sources(), outcome_decl_->span)));
        } else {
          outcome_decl_ = oc;
        }
      } else if (const auto* let = std::get_if<ast::LetDecl>(&d)) {
        DeclareValue(let->name, {Symbol::Kind::kLet, static_cast<int>(lets_.size())});
        lets_.push_back({let});
      } else if (const auto* band = std::get_if<ast::BandDecl>(&d)) {
        DeclareValue(band->name, {Symbol::Kind::kBand, static_cast<int>(bands_.size())});
        bands_.push_back({band});
      } else if (const auto* table = std::get_if<ast::TableDecl>(&d)) {
        DeclareValue(table->name, {Symbol::Kind::kTable, static_cast<int>(tables_.size())});
        tables_.push_back({table});
      } else if (const auto* card = std::get_if<ast::ScorecardDecl>(&d)) {
        DeclareValue(card->name, {Symbol::Kind::kScorecard, static_cast<int>(scorecards_.size())});
        scorecards_.push_back({card});
      } else if (const auto* rule = std::get_if<ast::RuleDecl>(&d)) {
        rule_decls_.push_back(rule);
      }
    }
  }

  void ResolveEnumsAndReasons() {
    for (const ast::EnumDecl* e : enum_order_) {
      EnumType type;
      type.name = e->name.name;
      type.span = e->span;
      for (const ast::Ident& symbol : e->symbols) {
        if (type.Find(symbol.name) >= 0) {
          Error("E0210", symbol.span,
                absl::StrCat("symbol ", Quoted(symbol.name), " appears twice in enum ",
                             Quoted(type.name)));
          continue;
        }
        type.symbols.push_back(symbol.name);
      }
      if (static_cast<int>(type.symbols.size()) > EnumType::kMaxSymbols) {
        Error("E0210", e->name.span,
              absl::StrCat("enum ", Quoted(type.name), " has ", type.symbols.size(),
                           " symbols; at most ", EnumType::kMaxSymbols, " are allowed"));
        type.symbols.resize(EnumType::kMaxSymbols);
      }
      policy_->enums.push_back(std::move(type));
      enums_[e->name.name] = &policy_->enums.back();
    }
    for (const ast::ReasonDecl* r : reason_decls_) {
      const int existing = policy_->FindReason(r->code.name);
      if (existing >= 0) {
        Error("E0202", r->code.span,
              absl::StrCat("reason ", Quoted(r->code.name), " is declared twice"),
              absl::StrCat("first declared at ",
                           Where(sources(), policy_->reasons[static_cast<size_t>(existing)].span)));
        continue;
      }
      policy_->reason_index.emplace(r->code.name, static_cast<int>(policy_->reasons.size()));
      policy_->reasons.push_back({r->code.name, r->message, r->span});
    }
  }

  // Resolves a written type; reports E0203 and returns the error type when
  // unknown, and E0318 when it declares decimal places (only inputs may).
  Type ResolveType(const ast::TypeRef& ref) {
    if (!ref.places.empty()) {
      Error("E0318", ref.span, "decimal places are declared on inputs only",
            absl::StrCat("write ", Quoted(ref.name),
                         ": a value the policy computes keeps every place; `round` it to fewer"));
    }
    return ResolveNamedType(ref);
  }

  // An input's type, and in `places` the most decimal places a fact may have:
  // DefaultPlaces, or N for `money(N)` (E0318 on any other type, or N beyond
  // 0..18).
  Type ResolveInputType(const ast::TypeRef& ref, int* places) {
    Type type = ResolveNamedType(ref);
    *places = DefaultPlaces(type.kind);
    if (ref.places.empty() || type.is_error()) return type;
    if (type.kind != TypeKind::kMoney) {
      Error("E0318", ref.span,
            absl::StrCat(T(type), " declares no decimal places: only money does"),
            "`money(0)` and `money(3)` are for currencies with other than two decimal places");
      return type;
    }
    std::string digits = absl::StrReplaceAll(ref.places, {{"_", ""}});
    int n = -1;
    if (!absl::SimpleAtoi(digits, &n) || n < 0 || n > Decimal::kMaxScale) {
      Error("E0318", ref.span,
            absl::StrCat("money takes 0 to ", Decimal::kMaxScale, " decimal places, not ",
                         ref.places));
      return type;
    }
    *places = n;
    return type;
  }

  Type ResolveNamedType(const ast::TypeRef& ref) {
    if (ref.is_set) {
      auto it = enums_.find(ref.name);
      if (it == enums_.end()) {
        Error("E0203", ref.span, absl::StrCat("unknown enum ", Quoted(ref.name)),
              "a set holds the symbols of one declared enum: `set of Requirement`");
        return Type::Error();
      }
      return Type::Set(it->second);
    }
    static const std::pair<const char*, TypeKind> kBuiltins[] = {
        {"bool", TypeKind::kBool},       {"int", TypeKind::kInt},
        {"decimal", TypeKind::kDecimal}, {"money", TypeKind::kMoney},
        {"percent", TypeKind::kPercent}, {"date", TypeKind::kDate}};
    for (const auto& [name, kind] : kBuiltins) {
      if (ref.name == name) return Type::Of(kind);
    }
    auto it = enums_.find(ref.name);
    if (it != enums_.end()) return Type::Enum(it->second);
    Error("E0203", ref.span, absl::StrCat("unknown type ", Quoted(ref.name)),
          "the types are bool, int, decimal, money, percent, date, a declared enum, or "
          "`set of` an enum");
    return Type::Error();
  }

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
      Error("E0304", expr.span, absl::StrCat(what, " must be ", T(type), ", found ", T(info.type)));
      return std::nullopt;
    }
    if (!info.constant) {
      Error("E0305", expr.span, absl::StrCat(what, " must be a constant"),
            "write a literal such as 500_000, 60% or an enum symbol");
      return std::nullopt;
    }
    return Coerce(*info.constant, type);
  }

  static Value Coerce(const Value& v, const Type& type) {
    if (type.is_numeric()) {
      absl::StatusOr<Value> converted = Convert(v, type.kind);
      if (converted.ok()) return *converted;
    }
    return v;
  }

  // The domain of values that pass `test` on a subject of type `type`;
  // nullopt when the test is not made of constants (already reported).
  std::optional<Domain> TestDomain(const ast::Test& test, const Type& type) {
    switch (test.kind) {
      case ast::TestKind::kAny:
        return Domain::Full(type);
      case ast::TestKind::kCompare: {
        if (test.op != Op::kEq && test.op != Op::kNe && !type.is_ordered()) {
          Error("E0302", test.span,
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
    Error("E0310", interval.span, absl::StrCat("a ", T(type), " value has no range"));
    return std::nullopt;
  }

  ABSL_ATTRIBUTE_NOINLINE std::optional<Domain> IntervalFrom(const ast::Interval& interval,
                                                             const Type& type, const Value& low,
                                                             const Value& high) {
    if (CompareValues(low, high) > 0) {
      Error("E0307", interval.span,
            absl::StrCat("empty range: ", FormatValue(low, type), " is above ",
                         FormatValue(high, type)),
            "write the lower bound first");
      return std::nullopt;
    }
    Domain d = Domain::Between(type, low, interval.low_closed, high, interval.high_closed);
    if (d.empty()) {
      Error("E0307", interval.span, "empty range: no value lies inside it");
      return std::nullopt;
    }
    return d;
  }

  // The inputs and their types; their ranges and defaults come later
  // (ResolveInputRanges), as those may name other values.
  void ResolveInputs() {
    for (const ast::InputDecl* decl : input_decls_) {
      InputInfo info;
      info.name = decl->name.name;
      info.decl = decl;
      info.type = ResolveInputType(decl->type, &info.places);
      info.range = Domain::Full(info.type);
      policy_->input_index.emplace(info.name, static_cast<int>(policy_->inputs.size()));
      policy_->inputs.push_back(std::move(info));
    }
  }

  void ResolveInputRanges() {
    for (InputInfo& info : policy_->inputs) {
      const ast::InputDecl* decl = info.decl;
      if (decl->constraint && !info.type.is_error()) {
        if (!info.type.is_ordered()) {
          Error("E0310", decl->constraint->span,
                absl::StrCat("input ", Quoted(info.name), " of type ", T(info.type),
                             " cannot have a range"));
        } else if (std::optional<Domain> d = TestDomain(*decl->constraint, info.type)) {
          if (d->empty()) {
            Error("E0307", decl->constraint->span,
                  absl::StrCat("the range of ", Quoted(info.name), " holds no value"));
          } else {
            info.range = *d;
            info.has_range = true;
          }
        }
      }
    }
    // Defaults after all ranges are known (a default is a constant of the type).
    for (InputInfo& info : policy_->inputs) {
      if (info.decl->default_value == nullptr || info.type.is_error()) continue;
      std::optional<Value> v = ConstantOf(*info.decl->default_value, info.type, "a default");
      if (!v) continue;
      if (info.type.is_ordered() && !info.range.Contains(Domain::Point(info.type, *v))) {
        Error("E0307", info.decl->default_value->span,
              absl::StrCat("the default ", FormatValue(*v, info.type), " of ", Quoted(info.name),
                           " is outside its range ", info.range.ToString()));
        continue;
      }
      // A default stands in for a fact: it may have no more places than one.
      const int places = info.type.is_decimal() ? v->d.Normalized().scale() : 0;
      if (info.type.is_decimal() && places > info.places) {
        Error("E0318", info.decl->default_value->span,
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

  void ResolveOutputs() {
    for (const ast::OutputDecl* decl : output_decls_) {
      if (policy_->FindOutput(decl->name.name) >= 0) {
        Error("E0202", decl->name.span,
              absl::StrCat("output ", Quoted(decl->name.name), " is declared twice"));
        continue;
      }
      if (decl->name.name == "outcome") {
        Error("E0202", decl->name.span, "`outcome` is the decision's outcome, not an output name",
              "declare the outcome scale with `outcome <Enum> = <symbol>`");
        continue;
      }
      OutputInfo info;
      info.name = decl->name.name;
      info.decl = decl;
      info.type = ResolveType(decl->type);
      if (decl->priority) {
        const std::string& order = decl->priority->name;
        if (order == "lowest") {
          info.resolution = SetResolution::kLowest;
        } else if (order == "highest") {
          info.resolution = SetResolution::kHighest;
        } else {
          Error("E0317", decl->priority->span,
                absl::StrCat("unknown output priority ", Quoted(order)),
                "write `priority lowest` or `priority highest`");
        }
        if (info.resolution != SetResolution::kRulePriority && !info.type.is_error() &&
            !info.type.is_ordered()) {
          Error("E0317", decl->priority->span,
                absl::StrCat("output ", Quoted(info.name), " of type ", T(info.type),
                             " has no lowest or highest value"));
        }
      }
      policy_->output_index.emplace(info.name, static_cast<int>(policy_->outputs.size()));
      policy_->outputs.push_back(std::move(info));
    }
  }

  void ResolveOutcome() {
    if (outcome_decl_ == nullptr) return;
    auto it = enums_.find(outcome_decl_->scale.name);
    if (it == enums_.end()) {
      Error("E0203", outcome_decl_->scale.span,
            absl::StrCat("unknown enum ", Quoted(outcome_decl_->scale.name)),
            "declare the outcome scale first, e.g. `enum Outcome { approve, refer, decline }`");
      return;
    }
    policy_->outcome = it->second;
    policy_->outcome_span = outcome_decl_->span;
    if (outcome_decl_->initial) {
      const int ordinal = it->second->Find(outcome_decl_->initial->name);
      if (ordinal < 0) {
        Error("E0204", outcome_decl_->initial->span,
              absl::StrCat(Quoted(outcome_decl_->initial->name), " is not a symbol of ",
                           Quoted(it->second->name)));
      } else {
        policy_->outcome_initial = ordinal;
      }
    }
  }

  // ----- lets, bands, tables, scorecards (checked on first use) ------------

  // Checking a definition checks first the definitions it uses, by
  // recursion; OrderDefinitions makes that recursion shallow, and this many
  // definitions being checked inside one another is refused (E0211): only a
  // cycle can get there.
  static constexpr int kMaxDefinitionNesting = 4;

  // Starts checking a lazily checked declaration; false when it is already
  // done, or when this is a cycle (reported, and then marked done). A true
  // result is paired with End.
  template <typename Decl>
  bool Begin(Pending<Decl>& pending) {
    if (pending.state == State::kDone) return false;
    if (pending.state == State::kUnchecked && nesting_ >= kMaxDefinitionNesting) {
      Error("E0211", pending.decl->name.span,
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
    ++nesting_;
    return true;
  }

  template <typename Decl>
  void End(Pending<Decl>& pending) {
    pending.state = State::kDone;
    --nesting_;
  }

  // The lets, bands, tables and scorecards in an order where each comes
  // after the ones its expressions name: a depth-first walk, with a stack of
  // its own, over the names each one mentions. A name may turn out to mean
  // an enum symbol; the extra edge only constrains the order. Checking them
  // in this order never nests (except around a cycle, which is an error).
  std::vector<Symbol> OrderDefinitions() const {
    std::vector<Symbol> nodes;
    auto add = [&](Symbol::Kind kind, size_t n) {
      for (size_t i = 0; i < n; ++i) nodes.push_back({kind, static_cast<int>(i)});
    };
    add(Symbol::Kind::kLet, lets_.size());
    add(Symbol::Kind::kBand, bands_.size());
    add(Symbol::Kind::kTable, tables_.size());
    add(Symbol::Kind::kScorecard, scorecards_.size());
    auto id = [&](const Symbol& s) -> size_t {
      size_t base = 0;
      if (s.kind == Symbol::Kind::kBand) base = lets_.size();
      if (s.kind == Symbol::Kind::kTable) base = lets_.size() + bands_.size();
      if (s.kind == Symbol::Kind::kScorecard) base = lets_.size() + bands_.size() + tables_.size();
      return base + static_cast<size_t>(s.index);
    };
    std::vector<std::vector<size_t>> uses(nodes.size());
    for (size_t n = 0; n < nodes.size(); ++n) {
      for (const std::string* name : NamesUsed(nodes[n])) {
        auto it = values_.find(*name);
        if (it == values_.end()) continue;
        const Symbol::Kind kind = it->second.first.kind;
        if (kind == Symbol::Kind::kLet || kind == Symbol::Kind::kBand ||
            kind == Symbol::Kind::kTable || kind == Symbol::Kind::kScorecard) {
          uses[n].push_back(id(it->second.first));
        }
      }
    }
    // Tarjan's strongly connected components, which come out each after
    // the ones it uses. A component of several is a cycle (or names that
    // turn out to be enum symbols): its members go in declaration order, so
    // the cycle is found, and reported, at the first of them.
    std::vector<Symbol> order;
    std::vector<int> index(nodes.size(), -1);
    std::vector<int> low(nodes.size(), 0);
    std::vector<char> on_stack(nodes.size(), 0);
    std::vector<size_t> component;                 // Tarjan's stack
    std::vector<std::pair<size_t, size_t>> calls;  // node, next use to follow
    int counter = 0;
    for (size_t root = 0; root < nodes.size(); ++root) {
      if (index[root] >= 0) continue;
      auto enter = [&](size_t n) {
        index[n] = low[n] = counter++;
        component.push_back(n);
        on_stack[n] = 1;
        calls.push_back({n, 0});
      };
      enter(root);
      while (!calls.empty()) {
        auto& [node, next] = calls.back();
        if (next < uses[node].size()) {
          const size_t used = uses[node][next++];
          if (index[used] < 0) {
            enter(used);
          } else if (on_stack[used]) {
            low[node] = std::min(low[node], index[used]);
          }
          continue;
        }
        const size_t done = node;
        calls.pop_back();
        if (!calls.empty()) low[calls.back().first] = std::min(low[calls.back().first], low[done]);
        if (low[done] != index[done]) continue;
        // The component is the top of the stack, down to `done`.
        size_t first = component.size() - 1;
        while (component[first] != done) --first;
        std::vector<size_t> members(component.begin() + static_cast<std::ptrdiff_t>(first),
                                    component.end());
        component.resize(first);
        std::sort(members.begin(), members.end());
        for (size_t m : members) {
          on_stack[m] = 0;
          order.push_back(nodes[m]);
        }
      }
    }
    return order;
  }

  // The names a definition's expressions mention (and its factors score).
  std::vector<const std::string*> NamesUsed(const Symbol& s) const {
    std::vector<const std::string*> names;
    auto name = [&](const ast::Expr& e) {
      if (e.kind == ast::ExprKind::kName) names.push_back(&e.text);
    };
    const size_t i = static_cast<size_t>(s.index);
    if (s.kind == Symbol::Kind::kLet) {
      walk::DeclNodes(*lets_[i].decl, name);
    } else if (s.kind == Symbol::Kind::kBand) {
      walk::DeclNodes(*bands_[i].decl, name);
    } else if (s.kind == Symbol::Kind::kTable) {
      walk::DeclNodes(*tables_[i].decl, name);
    } else {
      walk::FactorSubjects(*scorecards_[i].decl,
                           [&](const ast::Ident& subject) { names.push_back(&subject.name); });
      walk::DeclNodes(*scorecards_[i].decl, name);
    }
    return names;
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
      Error("E0211", name.span, absl::StrCat(Quoted(name.name), " depends on itself"),
            "a value cannot be computed from itself, directly or through other values");
      return false;
    }
    state = State::kChecking;
    return true;
  }

  void EnsureLet(int index) {
    auto& pending = lets_[static_cast<size_t>(index)];
    if (!Begin(pending)) return;
    const ast::LetDecl& decl = *pending.decl;
    LetInfo info;
    info.name = decl.name.name;
    info.decl = &decl;
    std::optional<Type> declared;
    if (decl.type) declared = ResolveType(*decl.type);
    ExprInfo value = CheckExpr(*decl.value, declared ? &*declared : nullptr);
    info.type = value.type;
    if (declared && !declared->is_error() && !value.type.is_error()) {
      if (!Assignable(value, *declared)) {
        Error("E0304", decl.value->span,
              absl::StrCat(Quoted(info.name), " is declared ", T(*declared), " but its value is ",
                           T(value.type)));
      }
      info.type = *declared;
    } else if (value.untyped && value.type.kind == TypeKind::kInt) {
      info.type = Type::Of(TypeKind::kInt);
    }
    let_infos_[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  void EnsureBand(int index) {
    auto& pending = bands_[static_cast<size_t>(index)];
    if (!Begin(pending)) return;
    const ast::BandDecl& decl = *pending.decl;
    BandInfo info;
    info.name = decl.name.name;
    info.decl = &decl;
    ExprInfo subject = CheckExpr(*decl.subject, nullptr);
    info.subject_type = subject.type;
    if (!subject.type.is_error() && !subject.type.is_ordered()) {
      Error("E0310", decl.subject->span,
            absl::StrCat("a band maps numbers, dates or enum values; ", Quoted(info.name),
                         " is on a ", T(subject.type)));
      info.subject_type = Type::Error();
    }
    std::optional<Type> declared;
    if (decl.type) declared = ResolveType(*decl.type);
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
          Error("E0304", row.value->span,
                absl::StrCat("band ", Quoted(info.name), " maps to ", T(value_type),
                             ", but this row gives ", T(v.type)));
        }
      }
    }
    info.type = value_type;
    band_infos_[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  void EnsureTable(int index) {
    auto& pending = tables_[static_cast<size_t>(index)];
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
        Error("E0315", decl.hit->span, absl::StrCat("unknown hit policy ", Quoted(hit)),
              "the hit policies are first, unique, priority and collect (with min, max or sum)");
      }
    }
    if (decl.aggregate) {
      const std::string& agg = decl.aggregate->name;
      if (info.hit != HitPolicy::kCollect) {
        Error("E0315", decl.aggregate->span,
              absl::StrCat(Quoted(agg), " only follows `collect`: `hit collect ", agg, "`"));
      } else if (agg == "min") {
        info.aggregate = Aggregate::kMin;
      } else if (agg == "max") {
        info.aggregate = Aggregate::kMax;
      } else if (agg == "sum") {
        info.aggregate = Aggregate::kSum;
      } else {
        Error("E0315", decl.aggregate->span, absl::StrCat("unknown aggregate ", Quoted(agg)),
              "collect takes min, max or sum, or nothing to gather a set");
      }
    }
    for (const ast::ExprPtr& input : decl.inputs) {
      ExprInfo in = CheckExpr(*input, nullptr);
      info.input_types.push_back(in.type);
    }
    for (const ast::TableColumn& column : decl.outputs) {
      Type t = ResolveType(column.type);
      if (info.hit == HitPolicy::kCollect && !t.is_error()) {
        if (info.aggregate == Aggregate::kNone) {
          if (t.kind != TypeKind::kEnum) {
            Error("E0316", column.span,
                  absl::StrCat("`hit collect` gathers enum values into a set; column ",
                               Quoted(column.name.name), " is ", T(t)),
                  "use `hit collect sum`, `min` or `max` for numbers");
          }
        } else if (!t.is_numeric() && !(info.aggregate != Aggregate::kSum && t.is_ordered())) {
          Error("E0316", column.span,
                absl::StrCat("cannot aggregate column ", Quoted(column.name.name), " of type ",
                             T(t)));
        }
      }
      info.output_types.push_back(t);
    }
    std::vector<std::vector<Domain>> columns(decl.inputs.size());
    for (const ast::TableRow& row : decl.rows) {
      if (row.tests.size() != decl.inputs.size() || row.values.size() != decl.outputs.size()) {
        Error("E0314", row.span,
              absl::StrCat("this row has ", row.tests.size(), " condition cells and ",
                           row.values.size(), " result cells; table ", Quoted(info.name), " has ",
                           decl.inputs.size(), " and ", decl.outputs.size()));
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
          Error("E0304", row.values[c]->span,
                absl::StrCat("column ", Quoted(decl.outputs[c].name.name), " is ", T(t), ", found ",
                             T(v.type)));
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
    table_infos_[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  // "12 MiB", "7 KiB": rounded up or down.
  static std::string Bytes(int64_t bytes, bool up) {
    const int64_t unit = bytes >= (int64_t{1} << 20) ? int64_t{1} << 20 : 1024;
    return absl::StrCat((bytes + (up ? unit - 1 : 0)) / unit, unit == 1024 ? " KiB" : " MiB");
  }

  // What the table's compiled lookups will take (compiler.cc BuildLookup):
  // per condition column, a mask of the rows for each segment of its values.
  // The policy's tables together stay under options_.max_table_lookup_words.
  void CountLookups(const ast::TableDecl& decl, const TableInfo& info,
                    const std::vector<std::vector<Domain>>& columns) {
    const int64_t words = std::max<int64_t>(1, (static_cast<int64_t>(decl.rows.size()) + 63) / 64);
    int64_t mine = 0;
    for (size_t c = 0; c < columns.size(); ++c) {
      if (info.input_types[c].is_error()) continue;
      mine += static_cast<int64_t>(LookupSegments(columns[c], info.input_types[c])) * words;
    }
    lookup_words_ += mine;
    if (lookup_words_ > options_.max_table_lookup_words && mine > 0) {
      ++too_large_;
      Error("E0319", decl.name.span,
            absl::StrCat("table ", Quoted(info.name), " is too large to serve: compiled, the ",
                         "policy's tables would take ", Bytes(lookup_words_ * 8, /*up=*/true),
                         ", at most ", Bytes(options_.max_table_lookup_words * 8, /*up=*/false),
                         " are allowed"),
            absl::StrCat("its ", decl.rows.size(),
                         " rows cut the values they test into many pieces; split it into smaller "
                         "tables"));
    }
  }

  void EnsureScorecard(int index) {
    auto& pending = scorecards_[static_cast<size_t>(index)];
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
        Error("E0202", group.name.span,
              absl::StrCat(Quoted(g.name), " is declared twice in scorecard ", Quoted(info.name)));
      }
      ExprInfo w = CheckExpr(*group.weight, nullptr);
      if (!w.type.is_error()) {
        if (!w.constant || !(w.type.kind == TypeKind::kPercent || w.type.is_numeric())) {
          Error("E0312", group.weight->span,
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
          Error(
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
          Error("E0310", factor.subject.span,
                absl::StrCat("cannot score ", Quoted(f.subject), " of type ", T(s.type)));
          f.subject_type = Type::Error();
        }
        subject_symbols_[&factor] = s.symbol;
        if (factor.reason) {
          f.reason = policy_->FindReason(factor.reason->name);
          if (f.reason < 0) UnknownReason(*factor.reason);
        }
        bool first = true;
        for (const ast::Row& row : factor.rows) {
          if (!f.subject_type.is_error()) TestDomain(row.test, f.subject_type);
          ExprInfo p = CheckExpr(*row.value, &decimal);
          if (p.type.is_error()) continue;
          if (!p.constant || !p.type.is_numeric() || p.type.kind == TypeKind::kMoney ||
              p.type.kind == TypeKind::kPercent) {
            Error("E0313", row.value->span, "points must be a constant number, such as 40");
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
              Error("E0313", factor.reason_threshold->span,
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
      Warning("W0504", decl.name.span,
              absl::StrCat("the group weights of ", Quoted(info.name), " add up to ",
                           FormatValue(total, Type::Of(TypeKind::kPercent)), ", not 100%"));
    }
    scorecard_infos_[static_cast<size_t>(index)] = std::move(info);
    End(pending);
  }

  void UnknownReason(const ast::Ident& code) {
    Error("E0205", code.span, absl::StrCat("unknown reason ", Quoted(code.name)),
          absl::StrCat("declare it: reason ", code.name, " \"what it means\""));
  }

  // ----- expressions -------------------------------------------------------

  // Can a value described by `info` be stored where `target` is expected?
  static bool Assignable(const ExprInfo& info, const Type& target) {
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

  ABSL_ATTRIBUTE_NOINLINE ExprInfo Record(const ast::Expr& e, ExprInfo info) {
    policy_->exprs[&e] = info;
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
    if (nesting_ > 1) return CheckNested(e, hint);
    return Dispatch(e, hint);
  }

  // Checking a definition inside another happens only around a cycle (see
  // OrderDefinitions), which may lead through one deep expression after
  // another: this many levels of them are checked before it is reported.
  static constexpr int kMaxNestedLevels = 40;

  ExprInfo CheckNested(const ast::Expr& e, const Type* hint) {
    if (nested_levels_ >= kMaxNestedLevels) return NestedTooFar(e);
    ++nested_levels_;
    ExprInfo info = Dispatch(e, hint);
    --nested_levels_;
    return info;
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo NestedTooFar(const ast::Expr& e) {
    Error("E0211", e.span,
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
      Error("E0306", e.span,
            absl::StrCat("invalid literal ", Quoted(e.text), ": ",
                         std::string(v.status().message())));
      return Fail(e);
    }
    ExprInfo info;
    info.type = Type::Of(v->kind);
    info.constant = *v;
    info.untyped = v->kind == TypeKind::kInt || v->kind == TypeKind::kDecimal;
    return Record(e, info);
  }

  // An enum symbol named `name`, looked up in `hint` first, then in every
  // enum (when exactly one has it).
  std::optional<ExprInfo> EnumSymbol(const ast::Expr& e, const Type* hint) {
    if (hint != nullptr && hint->enum_type != nullptr) {
      const int ordinal = hint->enum_type->Find(e.text);
      if (ordinal >= 0) return SymbolInfo(hint->enum_type, ordinal);
    }
    const EnumType* found = nullptr;
    int ordinal = -1;
    std::vector<std::string> owners;
    for (const EnumType& type : policy_->enums) {
      const int k = type.Find(e.text);
      if (k >= 0) {
        found = &type;
        ordinal = k;
        owners.push_back(type.name);
      }
    }
    if (owners.size() > 1) {
      Error("E0207", e.span,
            absl::StrCat(Quoted(e.text),
                         " is a symbol of several enums: ", absl::StrJoin(owners, ", ")),
            "compare it with a value of the enum you mean, e.g. `grade = A`");
      return ExprInfo{};
    }
    if (found == nullptr) return std::nullopt;
    return SymbolInfo(found, ordinal);
  }

  static ExprInfo SymbolInfo(const EnumType* type, int ordinal) {
    ExprInfo info;
    info.type = Type::Enum(type);
    info.constant = Value::Enum(ordinal);
    info.symbol = {Symbol::Kind::kEnumSymbol, ordinal};
    return info;
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo CheckName(const ast::Expr& e, const Type* hint, bool record) {
    auto done = [&](ExprInfo info) { return record ? Record(e, info) : info; };
    // An enum symbol of the expected enum wins over a value of the same name.
    if (hint != nullptr && hint->enum_type != nullptr && hint->enum_type->Find(e.text) >= 0) {
      return done(SymbolInfo(hint->enum_type, hint->enum_type->Find(e.text)));
    }
    auto it = values_.find(e.text);
    if (it != values_.end()) {
      const Symbol symbol = it->second.first;
      ExprInfo info;
      info.symbol = symbol;
      switch (symbol.kind) {
        case Symbol::Kind::kInput: {
          used_inputs_.insert(symbol.index);
          const InputInfo& input = policy_->inputs[static_cast<size_t>(symbol.index)];
          info.type = input.type;
          break;
        }
        case Symbol::Kind::kLet:
          used_lets_.insert(symbol.index);
          EnsureLet(symbol.index);
          if (static_cast<size_t>(symbol.index) < let_infos_.size()) {
            info.type = let_infos_[static_cast<size_t>(symbol.index)].type;
          }
          break;
        case Symbol::Kind::kBand:
          EnsureBand(symbol.index);
          if (static_cast<size_t>(symbol.index) < band_infos_.size()) {
            info.type = band_infos_[static_cast<size_t>(symbol.index)].type;
          }
          break;
        case Symbol::Kind::kTable:
        case Symbol::Kind::kScorecard:
          Error("E0208", e.span,
                absl::StrCat(Quoted(e.text), " is a ",
                             symbol.kind == Symbol::Kind::kTable ? "table" : "scorecard",
                             "; use one of its values, e.g. ",
                             symbol.kind == Symbol::Kind::kTable ? "`" + e.text + ".<column>`"
                                                                 : "`" + e.text + ".total`"));
          return done(ExprInfo{});
        default:
          break;
      }
      return done(info);
    }
    if (current_output_ >= 0) {
      const int output = policy_->FindOutput(e.text);
      if (output >= 0) {
        OutputInfo& self = policy_->outputs[static_cast<size_t>(current_output_)];
        if (output == current_output_) {
          Error("E0211", e.span, absl::StrCat("output ", Quoted(e.text), " depends on itself"),
                "an output's value may use other outputs, not itself");
          return done(ExprInfo{});
        }
        self.depends_on.push_back(output);
        ExprInfo info;
        info.type = policy_->outputs[static_cast<size_t>(output)].type;
        info.symbol = {Symbol::Kind::kOutput, output};
        return done(info);
      }
    }
    std::optional<ExprInfo> symbol = EnumSymbol(e, hint);
    if (symbol) return done(*symbol);
    if (hint != nullptr && hint->enum_type != nullptr) {
      Error("E0204", e.span,
            absl::StrCat(Quoted(e.text), " is not a symbol of ", Quoted(hint->enum_type->name)),
            absl::StrCat("its symbols are ", absl::StrJoin(hint->enum_type->symbols, ", ")));
    } else {
      Error("E0201", e.span, absl::StrCat("unknown name ", Quoted(e.text)),
            "declare it as an input or a let, or check the spelling");
    }
    return done(ExprInfo{});
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo CheckMember(const ast::Expr& e) {
    const ast::Expr& base = *e.args[0];
    if (base.kind != ast::ExprKind::kName) {
      Error("E0208", e.span, "only tables and scorecards have members");
      return Fail(e);
    }
    auto it = values_.find(base.text);
    if (it == values_.end()) {
      Error("E0201", base.span, absl::StrCat("unknown name ", Quoted(base.text)));
      return Fail(e);
    }
    const Symbol symbol = it->second.first;
    ExprInfo info;
    info.symbol = symbol;
    Record(base, ExprInfo{Type::Error(), false, std::nullopt, symbol, -1, false, -1});
    if (symbol.kind == Symbol::Kind::kTable) {
      EnsureTable(symbol.index);
      const TableInfo& table = table_infos_[static_cast<size_t>(symbol.index)];
      // A table read while it is being checked (a row naming its own table)
      // has no info yet; the cycle has been reported.
      if (table.decl == nullptr) return Fail(e);
      for (size_t c = 0; c < table.decl->outputs.size(); ++c) {
        if (table.decl->outputs[c].name.name == e.text) {
          info.type = table.output_types[c];
          info.member = static_cast<int>(c);
          return Record(e, info);
        }
      }
      std::vector<std::string> columns;
      for (const ast::TableColumn& c : table.decl->outputs) columns.push_back(c.name.name);
      Error("E0208", e.span,
            absl::StrCat("table ", Quoted(base.text), " has no column ", Quoted(e.text)),
            absl::StrCat("its columns are ", absl::StrJoin(columns, ", ")));
      return Fail(e);
    }
    if (symbol.kind == Symbol::Kind::kScorecard) {
      EnsureScorecard(symbol.index);
      const ScorecardInfo& card = scorecard_infos_[static_cast<size_t>(symbol.index)];
      info.type = Type::Of(TypeKind::kDecimal);
      if (e.text == "total") return Record(e, info);
      for (size_t g = 0; g < card.groups.size(); ++g) {
        if (card.groups[g].name == e.text) {
          info.member = static_cast<int>(g);
          return Record(e, info);
        }
        for (size_t f = 0; f < card.groups[g].factors.size(); ++f) {
          if (card.groups[g].factors[f].subject == e.text) {
            info.member = static_cast<int>(f);
            info.member_group = static_cast<int>(g);
            info.member_is_factor = true;
            return Record(e, info);
          }
        }
      }
      Error(
          "E0208", e.span,
          absl::StrCat("scorecard ", Quoted(base.text), " has no group or factor ", Quoted(e.text)),
          "use `total`, a group name or a factor's subject");
      return Fail(e);
    }
    Error("E0208", e.span,
          absl::StrCat(Quoted(base.text), " has no members; only tables and scorecards do"));
    return Fail(e);
  }

  static ExprInfo Typed(const Type& type) {
    ExprInfo info;
    info.type = type;
    return info;
  }

  // A bare name that is no value: an enum symbol waiting for its enum.
  bool IsBareSymbol(const ast::Expr& e) const {
    if (e.kind != ast::ExprKind::kName || values_.contains(e.text)) return false;
    return current_output_ < 0 || policy_->FindOutput(e.text) < 0;
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
    return CheckUnknownCall(e);
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
    return Record(e, FoldCall(e, result));
  }

  // Folds one more argument of min or max into `result`; false (reported
  // when new) when they do not mix.
  ABSL_ATTRIBUTE_NOINLINE bool MinMaxStep(const ast::Expr& e, const ExprInfo& next,
                                          ExprInfo* result) {
    if (result->type.is_error() || next.type.is_error()) return false;
    std::optional<ExprInfo> unified = Unify(*result, next);
    if (!unified || !unified->type.is_ordered()) {
      Error("E0301", e.span,
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
    if (!places.constant || places.type.kind != TypeKind::kInt || places.constant->i < 0 ||
        places.constant->i > Decimal::kMaxScale) {
      Error("E0309", e.args[1]->span,
            absl::StrCat("the places of `round` must be a whole number from 0 to ",
                         Decimal::kMaxScale));
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
        Error("E0309", mode.span, "unknown rounding mode",
              "the modes are half_even, half_up, half_down, up, down, ceiling and floor");
        return Fail(e);
      }
      Record(mode, ExprInfo{});
    }
    ExprInfo result;
    result.type = x.type;
    result.untyped = x.untyped;
    return Record(e, FoldCall(e, result));
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo CallError(const ast::Expr& e, const char* code, const char* what,
                                             const char* help = "") {
    Error(code, e.span, absl::StrCat(Quoted(e.text), " ", what), help);
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo NeedsNumber(const ast::Expr& e, const ExprInfo& x) {
    Error("E0301", e.span, absl::StrCat(Quoted(e.text), " needs a number, found ", T(x.type)));
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE void UnknownFunction(const ast::Expr& e) {
    Error("E0209", e.span, absl::StrCat("unknown function ", Quoted(e.text)),
          "the functions are min, max, abs and round");
  }

  // Folds a call over constant arguments (min, max, abs, round).
  ExprInfo FoldCall(const ast::Expr& e, ExprInfo result) {
    std::vector<Value> args;
    for (const ast::ExprPtr& arg : e.args) {
      const ExprInfo* info = policy_->Info(arg.get());
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
      Error("E0303", e.args[0]->span,
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
      Error("E0301", e.span, absl::StrCat("cannot negate a ", T(x.type)));
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

  ExprInfo CheckLogic(const ast::Expr& e) {
    ExprInfo a = CheckExpr(*e.args[0], nullptr);
    ExprInfo b = CheckExpr(*e.args[1], nullptr);
    return FinishLogic(e, a, b);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishLogic(const ast::Expr& e, const ExprInfo& a,
                                               const ExprInfo& b) {
    const Op op = e.op;
    bool ok = !a.type.is_error() && !b.type.is_error();
    for (const auto* side : {&a, &b}) {
      if (!side->type.is_error() && side->type.kind != TypeKind::kBool) {
        Error(
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

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishComparison(const ast::Expr& e, const ExprInfo& a,
                                                    const ExprInfo& b) {
    const Op op = e.op;
    if (a.type.is_error() || b.type.is_error()) return Fail(e);
    std::optional<ExprInfo> common = Unify(a, b);
    const bool equality = op == Op::kEq || op == Op::kNe;
    if (!common || (!equality && !common->type.is_ordered())) {
      Error("E0302", e.span, absl::StrCat("cannot compare ", T(a.type), " with ", T(b.type)),
            a.type.kind == TypeKind::kEnum || b.type.kind == TypeKind::kEnum
                ? "compare an enum value with a symbol of the same enum"
                : "");
      return Fail(e);
    }
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
      Error(why.find("money times money") != std::string::npos ? "E0311" : "E0301", e.span,
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
        Error(
            "E0306", e.span,
            absl::StrCat("this constant cannot be computed: ", std::string(v.status().message())));
        return Fail(e);
      }
      result->constant = *v;
    }
    return Record(e, *result);
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
    Error("E0310", e.span, "`in` tests one value; a set is not a member of a set");
    return Fail(e);
  }

  // Can `element` be compared with the value `x` tested by `in`?
  ABSL_ATTRIBUTE_NOINLINE bool InElement(const ast::Expr& arg, const ExprInfo& element,
                                         const ExprInfo& x) {
    if (element.type.is_error()) return false;
    if (!Assignable(element, x.type) && !Unify(element, x)) {
      Error("E0302", arg.span,
            absl::StrCat("cannot compare ", T(x.type), " with ", T(element.type)));
      return false;
    }
    return true;
  }

  ExprInfo CheckIf(const ast::Expr& e, const Type* hint) {
    ExprInfo c = CheckExpr(*e.args[0], nullptr);
    if (!c.type.is_error() && c.type.kind != TypeKind::kBool) return IfNotBool(e, c);
    if (RightFirst(*e.args[1], *e.args[2])) return CheckIfRightFirst(e, c, hint);
    ExprInfo a = CheckExpr(*e.args[1], hint);
    ExprInfo b = CheckExpr(*e.args[2], HintFrom(a, hint));
    return FinishIf(e, c, a, b);
  }

  ExprInfo CheckIfRightFirst(const ast::Expr& e, const ExprInfo& c, const Type* hint) {
    ExprInfo b = CheckExpr(*e.args[2], hint);
    ExprInfo a = CheckExpr(*e.args[1], HintFrom(b, hint));
    return FinishIf(e, c, a, b);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo IfNotBool(const ast::Expr& e, const ExprInfo& c) {
    Error("E0303", e.args[0]->span,
          absl::StrCat("the condition of `if` must be bool, found ", T(c.type)));
    return Fail(e);
  }

  ABSL_ATTRIBUTE_NOINLINE ExprInfo FinishIf(const ast::Expr& e, const ExprInfo& c,
                                            const ExprInfo& a, const ExprInfo& b) {
    if (c.type.is_error() || a.type.is_error() || b.type.is_error()) return Fail(e);
    std::optional<ExprInfo> common = Unify(a, b);
    if (!common) {
      Error("E0301", e.span,
            absl::StrCat("the branches of `if` give ", T(a.type), " and ", T(b.type)));
      return Fail(e);
    }
    ExprInfo r = *common;
    r.symbol = {};
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
      Error("E0304", arg.span, "a set literal holds enum symbols");
      return false;
    }
    if (*element_type == nullptr) *element_type = x.type.enum_type;
    if (x.type.enum_type != *element_type) {
      Error("E0304", arg.span,
            absl::StrCat(Quoted(arg.text), " is not a symbol of ", Quoted((*element_type)->name)));
      return false;
    }
    *bits |= uint64_t{1} << x.constant->i;
    return true;
  }

  // ----- outputs and rules -------------------------------------------------

  // Output values may read other outputs (their final values, after the
  // rules): checked here, then ordered so each follows what it reads.
  void CheckOutputValues() {
    for (size_t i = 0; i < policy_->outputs.size(); ++i) {
      OutputInfo& out = policy_->outputs[i];
      if (out.decl->value == nullptr || out.type.is_error()) continue;
      current_output_ = static_cast<int>(i);
      ExprInfo v = CheckExpr(*out.decl->value, &out.type);
      current_output_ = -1;
      if (!v.type.is_error() && !Assignable(v, out.type)) {
        Error("E0304", out.decl->value->span,
              absl::StrCat("output ", Quoted(out.name), " is ", T(out.type), ", its value is ",
                           T(v.type)));
      }
    }
    // Depth-first topological order, with a stack of its own (a chain of
    // outputs may be as long as the policy); a cycle is reported once.
    std::vector<int> state(policy_->outputs.size(), 0);  // 0 new, 1 visiting, 2 done
    std::vector<std::pair<size_t, size_t>> stack;        // output, next dependency
    for (size_t root = 0; root < policy_->outputs.size(); ++root) {
      if (state[root] != 0) continue;
      state[root] = 1;
      stack.push_back({root, 0});
      while (!stack.empty()) {
        auto& [o, next] = stack.back();
        const std::vector<int>& depends_on = policy_->outputs[o].depends_on;
        if (next < depends_on.size()) {
          const size_t d = static_cast<size_t>(depends_on[next++]);
          if (state[d] == 1) {
            const OutputInfo& out = policy_->outputs[d];
            Error("E0211", out.decl->name.span,
                  absl::StrCat("output ", Quoted(out.name),
                               " depends on itself through other outputs"));
          } else if (state[d] == 0) {
            state[d] = 1;
            stack.push_back({d, 0});
          }
          continue;
        }
        state[o] = 2;
        policy_->output_order.push_back(static_cast<int>(o));
        stack.pop_back();
      }
    }
  }

  OutputInfo* Target(const ast::Ident& target) {
    const int index = policy_->FindOutput(target.name);
    if (index < 0) {
      std::vector<std::string> names;
      for (const OutputInfo& o : policy_->outputs) names.push_back(o.name);
      Error("E0206", target.span, absl::StrCat("unknown output ", Quoted(target.name)),
            names.empty() ? "declare it: output name: type = value"
                          : absl::StrCat("the outputs are ", absl::StrJoin(names, ", ")));
      return nullptr;
    }
    return &policy_->outputs[static_cast<size_t>(index)];
  }

  void CheckRules() {
    absl::flat_hash_map<std::string, const ast::RuleDecl*> ids;
    // Which rules set each output, for the priority check.
    absl::flat_hash_map<std::string, std::vector<const RuleInfo*>> setters;
    policy_->rules.reserve(rule_decls_.size());
    for (const ast::RuleDecl* decl : rule_decls_) {
      RuleInfo rule;
      rule.id = decl->id.name;
      rule.decl = decl;
      if (!ids.emplace(rule.id, decl).second) {
        Error("E0202", decl->id.span, absl::StrCat("rule ", Quoted(rule.id), " is declared twice"),
              "rule ids are stable names that decisions refer to; give each rule its own");
      }
      if (decl->priority) {
        int64_t p = 0;
        std::string digits = *decl->priority;
        digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
        if (!absl::SimpleAtoi(digits, &p)) {
          Error("E0306", decl->priority_span, "the priority must be a whole number");
        } else {
          rule.priority = p;
        }
      }
      ExprInfo cond = CheckExpr(*decl->condition, nullptr);
      if (!cond.type.is_error() && cond.type.kind != TypeKind::kBool) {
        Error("E0303", decl->condition->span,
              absl::StrCat("the condition of rule ", Quoted(rule.id), " must be bool, found ",
                           T(cond.type)));
      }
      bool has_reason = false;
      for (const ast::Effect& effect : decl->effects) {
        if (effect.code) has_reason = true;
      }
      for (const ast::Effect& effect : decl->effects) CheckEffect(rule, effect, has_reason);
      policy_->rules.push_back(std::move(rule));
      for (const ast::Effect& effect : decl->effects) {
        if (effect.kind == ast::EffectKind::kSet) {
          setters[effect.target.name].push_back(&policy_->rules.back());
        }
      }
    }
    for (const OutputInfo& out : policy_->outputs) {
      auto it = setters.find(out.name);
      if (it == setters.end() || it->second.size() < 2) continue;
      if (out.resolution != SetResolution::kRulePriority) continue;
      const auto& rules = it->second;
      for (size_t i = 0; i < rules.size(); ++i) {
        for (size_t j = i + 1; j < rules.size(); ++j) {
          const RuleInfo& a = *rules[i];
          const RuleInfo& b = *rules[j];
          if (a.id == b.id) continue;
          if (!a.priority || !b.priority) {
            Error("E0403", b.decl->id.span,
                  absl::StrCat("rules ", Quoted(a.id), " and ", Quoted(b.id), " both set ",
                               Quoted(out.name), " without a priority"),
                  "give each rule a priority (`rule id priority 10`: the higher wins), or the "
                  "output one (`priority lowest`: the smallest value wins)");
          } else if (*a.priority == *b.priority) {
            Error("E0407", b.decl->priority_span,
                  absl::StrCat("rules ", Quoted(a.id), " and ", Quoted(b.id), " set ",
                               Quoted(out.name), " with the same priority ", *a.priority),
                  "give them different priorities");
          }
        }
      }
    }
  }

  // Checks an effect's value against the output it sets, caps or raises.
  void CheckEffectValue(const ast::Effect& effect, const OutputInfo& out) {
    ExprInfo v = CheckExpr(*effect.value, &out.type);
    if (!v.type.is_error() && !Assignable(v, out.type)) {
      Error("E0304", effect.value->span,
            absl::StrCat("output ", Quoted(out.name), " is ", T(out.type), ", found ", T(v.type)));
    }
  }

  void CheckEffect(const RuleInfo& rule, const ast::Effect& effect, bool rule_has_reason) {
    if (effect.code && policy_->FindReason(effect.code->name) < 0) UnknownReason(*effect.code);
    switch (effect.kind) {
      case ast::EffectKind::kOutcome: {
        if (policy_->outcome == nullptr) {
          Error("E0406", effect.target.span,
                absl::StrCat(Quoted(effect.target.name),
                             " is not an effect; outcome effects need an outcome scale"),
                "declare one: `outcome Outcome = approve`, or use set, cap, raise, add or reason");
          return;
        }
        const int ordinal = policy_->outcome->Find(effect.target.name);
        if (ordinal < 0) {
          Error("E0406", effect.target.span,
                absl::StrCat(Quoted(effect.target.name), " is not an outcome of ",
                             Quoted(policy_->outcome->name)),
                absl::StrCat("the outcomes are ", absl::StrJoin(policy_->outcome->symbols, ", ")));
          return;
        }
        if (ordinal > policy_->outcome_initial && !rule_has_reason) {
          Error("E0404", effect.span,
                absl::StrCat("rule ", Quoted(rule.id), " gives ", Quoted(effect.target.name),
                             " without a reason code"),
                absl::StrCat("name the reason: `", effect.target.name, " SOME_REASON`"));
        }
        return;
      }
      case ast::EffectKind::kReason:
        return;
      case ast::EffectKind::kSet:
      case ast::EffectKind::kCap:
      case ast::EffectKind::kRaise:
      case ast::EffectKind::kAdd:
        break;
    }
    OutputInfo* out = Target(effect.target);
    if (out == nullptr) {
      CheckExpr(*effect.value, nullptr);
      return;
    }
    out->set_by_rules = true;
    if (out->type.is_error()) return;
    switch (effect.kind) {
      case ast::EffectKind::kSet: {
        CheckEffectValue(effect, *out);
        return;
      }
      case ast::EffectKind::kCap: {
        if (!out->type.is_ordered() || out->type.kind == TypeKind::kEnum) {
          Error("E0308", effect.span,
                absl::StrCat("cannot cap ", Quoted(out->name), " of type ", T(out->type)),
                "`cap` lowers a number to at most a value; for enums use `raise`");
          CheckExpr(*effect.value, nullptr);
          return;
        }
        CheckEffectValue(effect, *out);
        return;
      }
      case ast::EffectKind::kRaise: {
        if (out->type.kind != TypeKind::kEnum && !out->type.is_numeric()) {
          Error("E0308", effect.span,
                absl::StrCat("cannot raise ", Quoted(out->name), " of type ", T(out->type)),
                "`raise` lifts an enum (a level) or a number to at least a value");
          CheckExpr(*effect.value, nullptr);
          return;
        }
        CheckEffectValue(effect, *out);
        return;
      }
      case ast::EffectKind::kAdd: {
        if (out->type.kind != TypeKind::kEnumSet) {
          Error("E0308", effect.span,
                absl::StrCat("cannot add to ", Quoted(out->name), " of type ", T(out->type)),
                "`add` puts a symbol into a set output (`set of` an enum)");
          CheckExpr(*effect.value, nullptr);
          return;
        }
        const Type element = Type::Enum(out->type.enum_type);
        ExprInfo v = CheckExpr(*effect.value, &element);
        if (!v.type.is_error() && v.type != element) {
          Error("E0304", effect.value->span,
                absl::StrCat(Quoted(out->name), " holds ", T(element), ", found ", T(v.type)));
        }
        return;
      }
      default:
        return;
    }
  }

  void CheckOutputsAreSet() {
    for (const OutputInfo& out : policy_->outputs) {
      if (out.decl->value != nullptr || out.type.is_error()) continue;
      // Enums start at their lowest symbol and sets empty; other outputs need
      // a value or a rule that sets them.
      if (out.type.kind == TypeKind::kEnum || out.type.kind == TypeKind::kEnumSet) continue;
      if (!out.set_by_rules) {
        Error("E0405", out.decl->name.span,
              absl::StrCat("output ", Quoted(out.name), " is never set and has no value"),
              absl::StrCat("give it one: `output ", out.name, ": ", TypeName(out.type),
                           " = ...`, or set it in a rule"));
      }
    }
  }

  void CheckUnused() {
    if (policy_->is_library) return;
    for (size_t i = 0; i < policy_->inputs.size(); ++i) {
      if (used_inputs_.contains(static_cast<int>(i))) continue;
      const InputInfo& input = policy_->inputs[i];
      Warning("W0501", input.decl->name.span,
              absl::StrCat("input ", Quoted(input.name), " is never used"),
              "callers must still send it; remove it if the policy does not need it");
    }
    // Factor subjects count as uses.
  }

 public:
  void NoteFactorUses() {
    for (const auto& [factor, symbol] : subject_symbols_) {
      if (symbol.kind == Symbol::Kind::kInput) used_inputs_.insert(symbol.index);
    }
  }

  // Copies the lazily checked infos into the policy (in declaration order).
  void Publish() {
    policy_->lets = let_infos_;
    policy_->bands = band_infos_;
    policy_->tables = table_infos_;
    policy_->scorecards = scorecard_infos_;
  }

  // How many tables were too large to serve (E0319).
  int too_large() const { return too_large_; }

  std::unique_ptr<CheckedPolicy> RunAll() {
    const Program& program = *policy_->program;
    CheckHeader(*program.files[0]);
    for (size_t f = 0; f < program.files.size(); ++f) Collect(*program.files[f], f == 0);
    ResolveEnumsAndReasons();
    ResolveInputs();
    ResolveOutputs();
    ResolveOutcome();
    let_infos_.resize(lets_.size());
    band_infos_.resize(bands_.size());
    table_infos_.resize(tables_.size());
    scorecard_infos_.resize(scorecards_.size());
    policy_->definition_order = OrderDefinitions();
    for (const Symbol& s : policy_->definition_order) Ensure(s);
    ResolveInputRanges();
    CheckOutputValues();
    CheckRules();
    CheckOutputsAreSet();
    NoteFactorUses();
    CheckUnused();
    Publish();
    return std::move(policy_);
  }

 private:
  dsl::DiagnosticSink& sink_;
  const CheckOptions& options_;
  std::unique_ptr<CheckedPolicy> policy_;
  int64_t lookup_words_ = 0;  // of the tables' compiled lookups so far
  int too_large_ = 0;         // tables refused for that (E0319)

  absl::flat_hash_map<std::string, std::pair<Symbol, SourceSpan>> values_;
  absl::flat_hash_map<std::string, const ast::EnumDecl*> enum_decls_;
  std::vector<const ast::EnumDecl*> enum_order_;
  absl::flat_hash_map<std::string, const EnumType*> enums_;
  std::vector<const ast::ReasonDecl*> reason_decls_;
  std::vector<const ast::InputDecl*> input_decls_;
  std::vector<const ast::OutputDecl*> output_decls_;
  const ast::OutcomeDecl* outcome_decl_ = nullptr;
  int current_output_ = -1;  // while checking an output's value: its index
  int nesting_ = 0;          // definitions being checked inside one another
  int nested_levels_ = 0;    // CheckNested calls inside one another
  std::vector<Pending<ast::LetDecl>> lets_;
  std::vector<Pending<ast::BandDecl>> bands_;
  std::vector<Pending<ast::TableDecl>> tables_;
  std::vector<Pending<ast::ScorecardDecl>> scorecards_;
  std::vector<const ast::RuleDecl*> rule_decls_;

  std::vector<LetInfo> let_infos_;
  std::vector<BandInfo> band_infos_;
  std::vector<TableInfo> table_infos_;
  std::vector<ScorecardInfo> scorecard_infos_;
  absl::flat_hash_map<const ast::Factor*, Symbol> subject_symbols_;
  absl::flat_hash_set<int> used_inputs_;
  absl::flat_hash_set<int> used_lets_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CheckedPolicy>> Check(std::unique_ptr<Program> program,
                                                     dsl::DiagnosticSink& sink,
                                                     const CheckOptions& options) {
  if (program == nullptr || program->files.empty()) {
    return absl::FailedPreconditionError("the policy file did not parse; nothing to check");
  }
  const int errors_before = sink.error_count();
  Checker checker(std::move(program), sink, options);
  std::unique_ptr<CheckedPolicy> policy = checker.RunAll();
  // A table too large to serve (E0319) is no defect of the policy's
  // meaning: the analysis still says what it can about it.
  if (sink.error_count() - errors_before == checker.too_large()) {
    policy->analysis_work = Analyze(*policy, sink, options);
  }
  return policy;
}

absl::StatusOr<std::unique_ptr<CheckedPolicy>> LoadAndCheck(const std::string& path,
                                                            FileReader& reader,
                                                            dsl::DiagnosticSink& sink,
                                                            const CheckOptions& options) {
  absl::StatusOr<std::unique_ptr<Program>> program = LoadProgram(path, reader, sink);
  if (!program.ok()) return program.status();
  if (sink.has_errors()) {
    // Syntax and import errors first: checking a partial program would only
    // add errors that follow from them.
    auto policy = std::make_unique<CheckedPolicy>();
    policy->program = *std::move(program);
    return policy;
  }
  return Check(*std::move(program), sink, options);
}

}  // namespace creditd::engine
