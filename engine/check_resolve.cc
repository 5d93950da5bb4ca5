// The declare/resolve pass: collects the declarations, resolves the written
// types, says what each name and reason code refers to, and orders the
// definitions and the outputs so that each comes after what it uses.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "dsl/formatter.h"
#include "engine/ast_walk.h"
#include "engine/check_context.h"
#include "engine/suggest.h"

namespace creditd::engine::check {

namespace {

// The named values a name may mean, sorted (a suggestion must not depend on
// a hash map's order).
std::vector<std::string> ValueNames(const CheckContext& ctx) {
  std::vector<std::string> names;
  names.reserve(ctx.values.size());
  for (const auto& [name, value] : ctx.values) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

// "did you mean `X`?" when one is close, else `otherwise`.
std::string MeanOr(absl::string_view name, const std::vector<std::string>& candidates,
                   std::string otherwise) {
  std::string mean = DidYouMean(name, candidates);
  return mean.empty() ? otherwise : mean;
}

Type ResolveNamedType(CheckContext& ctx, const ast::TypeRef& ref) {
  if (ref.is_set) {
    auto it = ctx.enums.find(ref.name);
    if (it == ctx.enums.end()) {
      std::vector<std::string> enums;
      for (const auto& [name, type] : ctx.enums) enums.push_back(name);
      std::sort(enums.begin(), enums.end());
      ctx.Error("E0203", ref.span, absl::StrCat("unknown enum ", Quoted(ref.name)),
                MeanOr(ref.name, enums,
                       "a set holds the symbols of one declared enum: `set of Requirement`"));
      return Type::Error();
    }
    return Type::Set(it->second);
  }
  static const std::pair<const char*, TypeKind> kBuiltins[] = {
      {"bool", TypeKind::kBool},   {"int", TypeKind::kInt},         {"decimal", TypeKind::kDecimal},
      {"money", TypeKind::kMoney}, {"percent", TypeKind::kPercent}, {"date", TypeKind::kDate}};
  for (const auto& [name, kind] : kBuiltins) {
    if (ref.name == name) return Type::Of(kind);
  }
  auto it = ctx.enums.find(ref.name);
  if (it != ctx.enums.end()) return Type::Enum(it->second);
  std::vector<std::string> types;
  for (const auto& [name, kind] : kBuiltins) types.push_back(name);
  std::vector<std::string> enums;
  for (const auto& [name, type] : ctx.enums) enums.push_back(name);
  std::sort(enums.begin(), enums.end());
  types.insert(types.end(), enums.begin(), enums.end());
  ctx.Error("E0203", ref.span, absl::StrCat("unknown type ", Quoted(ref.name)),
            MeanOr(ref.name, types,
                   "the types are bool, int, decimal, money, percent, date, a declared enum, or "
                   "`set of` an enum"));
  return Type::Error();
}

// An input's type, and in `places` the most decimal places a fact may have:
// DefaultPlaces, or N for `money(N)` (E0318 on any other type, or N beyond
// 0..18).
Type ResolveInputType(CheckContext& ctx, const ast::TypeRef& ref, int* places) {
  Type type = ResolveNamedType(ctx, ref);
  *places = DefaultPlaces(type.kind);
  if (ref.places.empty() || type.is_error()) return type;
  if (type.kind != TypeKind::kMoney) {
    ctx.Error("E0318", ref.span,
              absl::StrCat(T(type), " declares no decimal places: only money does"),
              "`money(0)` and `money(3)` are for currencies with other than two decimal places");
    return type;
  }
  std::string digits = absl::StrReplaceAll(ref.places, {{"_", ""}});
  int n = -1;
  if (!absl::SimpleAtoi(digits, &n) || n < 0 || n > Decimal::kMaxScale) {
    ctx.Error(
        "E0318", ref.span,
        absl::StrCat("money takes 0 to ", Decimal::kMaxScale, " decimal places, not ", ref.places));
    return type;
  }
  *places = n;
  return type;
}

// E0320 for `?` on anything but an input.
void RefuseOptional(CheckContext& ctx, const ast::TypeRef& ref) {
  if (!ref.optional) return;
  ast::TypeRef plain = ref;
  plain.optional = false;
  ctx.Error("E0320", ref.span, "only an input may be optional",
            absl::StrCat("write ", Quoted(dsl::FormatType(plain))));
}

// An output's type, and from edition 2 the decimal places its money holds:
// 2 unless it declares others, `money(0)`.
Type ResolveOutputType(CheckContext& ctx, const ast::TypeRef& ref, int* places) {
  if (ctx.policy->edition < 2) {
    *places = -1;
    return ResolveType(ctx, ref);
  }
  RefuseOptional(ctx, ref);
  return ResolveInputType(ctx, ref, places);
}

// The edition `header` declares: 1 when it declares none, -1 when it
// declares one that is not an edition.
int DeclaredEdition(const ast::Header& header) {
  for (const ast::HeaderField& field : header.fields) {
    if (field.key.name != "edition") continue;
    int edition = -1;
    if (field.kind != ast::HeaderField::Kind::kInt || !absl::SimpleAtoi(field.value, &edition) ||
        edition < 1 || edition > kLatestEdition) {
      return -1;
    }
    return edition;
  }
  return 1;
}

void CheckHeaderOf(CheckContext& ctx, const ast::File& file) {
  const ast::Header& header = file.header;
  ctx.policy->is_library = header.is_library;
  ctx.policy->name = header.name.name;
  absl::flat_hash_map<std::string, const ast::HeaderField*> seen;
  for (const ast::HeaderField& field : header.fields) {
    const std::string& key = field.key.name;
    if (key != "version" && key != "effective" && key != "edition" && key != "owner" &&
        key != "description") {
      ctx.Error("E0102", field.key.span, absl::StrCat("unknown header field ", Quoted(key)),
                "the header fields are version, effective, edition, owner and description");
      continue;
    }
    if (!seen.emplace(key, &field).second) {
      ctx.Error("E0104", field.key.span,
                absl::StrCat("header field ", Quoted(key), " is given twice"));
      continue;
    }
    using Kind = ast::HeaderField::Kind;
    if (key == "version") {
      if (field.kind != Kind::kVersion) {
        ctx.Error("E0103", field.span, "`version` must be a semantic version such as 1.0.0");
      }
      ctx.policy->version = field.value;
    } else if (key == "effective") {
      if (field.kind != Kind::kDate || !ParseDate(field.value).ok()) {
        ctx.Error("E0103", field.span, "`effective` must be a calendar date such as 2026-01-01");
      }
      ctx.policy->effective = field.value;
    } else if (key == "edition") {
      const int edition = DeclaredEdition(header);
      if (edition < 0) {
        ctx.Error("E0103", field.span,
                  absl::StrCat("`edition` must be a language edition: 1 to ", kLatestEdition),
                  absl::StrCat("write `edition ", kLatestEdition, "` for the latest language"));
      } else {
        ctx.policy->edition = edition;
      }
    } else if (field.kind != Kind::kString) {
      ctx.Error("E0103", field.span, absl::StrCat(Quoted(key), " must be a quoted text"));
    } else if (key == "owner") {
      ctx.policy->owner = field.value;
    } else {
      ctx.policy->description = field.value;
    }
  }
  if (!header.is_library) {
    for (const char* required : {"version", "effective"}) {
      if (!seen.contains(required)) {
        ctx.Error("E0101", header.name.span,
                  absl::StrCat("policy ", Quoted(header.name.name), " has no `", required, "`"),
                  std::string(required) == "version"
                      ? "add `version 1.0.0` under the policy line"
                      : "add `effective 2026-01-01` under the policy line");
      }
    }
  }
}

// Registers a value name (input, let, band, table, scorecard).
void DeclareValue(CheckContext& ctx, const ast::Ident& ident, Symbol symbol) {
  if (ctx.policy->edition >= 2 && ident.name == "today") {
    ctx.Error("E0202", ident.span, "`today` is the evaluation date and cannot be declared",
              "from edition 2 `today` is the date a decision is made for; give this value "
              "another name");
    return;
  }
  auto [it, fresh] = ctx.values.emplace(ident.name, std::make_pair(symbol, ident.span));
  if (!fresh) {
    ctx.Error("E0202", ident.span, absl::StrCat(Quoted(ident.name), " is declared twice"),
              absl::StrCat("first declared at ", Where(ctx.sources(), it->second.second)));
  }
}

void Collect(CheckContext& ctx, const ast::File& file, bool main) {
  if (!main && !file.header.is_library) {
    // Find the import that brought it in, for the span.
    ctx.Error("E0106", file.header.span,
              absl::StrCat(Quoted(file.header.name.name),
                           " is a policy and cannot be imported; only libraries can"),
              "change `policy` to `library` in the imported file, or import a library instead");
  }
  if (!main && file.header.is_library) {
    const int edition = DeclaredEdition(file.header);
    if (edition > 0 && edition != ctx.policy->edition) {
      ctx.Error("E0107", file.header.span,
                absl::StrCat("library ", Quoted(file.header.name.name), " is edition ", edition,
                             ", the policy that imports it edition ", ctx.policy->edition),
                "a policy and its libraries are written in one edition: declare the same "
                "`edition` in both");
    }
  }
  for (const ast::Declaration& d : file.declarations) {
    if (file.header.is_library &&
        (std::holds_alternative<ast::OutputDecl>(d) || std::holds_alternative<ast::RuleDecl>(d) ||
         std::holds_alternative<ast::OutcomeDecl>(d))) {
      ctx.Error("E0105", ast::SpanOf(d),
                "a library holds shared definitions only: outputs, rules and the outcome belong "
                "in a policy");
      continue;
    }
    if (const auto* e = std::get_if<ast::EnumDecl>(&d)) {
      auto [it, fresh] = ctx.enum_decls.emplace(e->name.name, e);
      if (!fresh) {
        ctx.Error("E0202", e->name.span, absl::StrCat(Quoted(e->name.name), " is declared twice"),
                  absl::StrCat("first declared at ", Where(ctx.sources(), it->second->name.span)));
      } else {
        ctx.enum_order.push_back(e);
      }
    } else if (const auto* r = std::get_if<ast::ReasonDecl>(&d)) {
      ctx.reason_decls.push_back(r);
    } else if (const auto* in = std::get_if<ast::InputDecl>(&d)) {
      DeclareValue(ctx, in->name, {Symbol::Kind::kInput, static_cast<int>(ctx.input_decls.size())});
      ctx.input_decls.push_back(in);
    } else if (const auto* out = std::get_if<ast::OutputDecl>(&d)) {
      ctx.output_decls.push_back(out);
    } else if (const auto* oc = std::get_if<ast::OutcomeDecl>(&d)) {
      if (ctx.outcome_decl != nullptr) {
        ctx.Error("E0202", oc->span, "the outcome is declared twice",
                  absl::StrCat("first declared at ", Where(ctx.sources(), ctx.outcome_decl->span)));
      } else {
        ctx.outcome_decl = oc;
      }
    } else if (const auto* let = std::get_if<ast::LetDecl>(&d)) {
      DeclareValue(ctx, let->name, {Symbol::Kind::kLet, static_cast<int>(ctx.lets.size())});
      ctx.lets.push_back({let});
    } else if (const auto* band = std::get_if<ast::BandDecl>(&d)) {
      DeclareValue(ctx, band->name, {Symbol::Kind::kBand, static_cast<int>(ctx.bands.size())});
      ctx.bands.push_back({band});
    } else if (const auto* table = std::get_if<ast::TableDecl>(&d)) {
      DeclareValue(ctx, table->name, {Symbol::Kind::kTable, static_cast<int>(ctx.tables.size())});
      ctx.tables.push_back({table});
    } else if (const auto* card = std::get_if<ast::ScorecardDecl>(&d)) {
      DeclareValue(ctx, card->name,
                   {Symbol::Kind::kScorecard, static_cast<int>(ctx.scorecards.size())});
      ctx.scorecards.push_back({card});
    } else if (const auto* rule = std::get_if<ast::RuleDecl>(&d)) {
      ctx.rule_decls.push_back(rule);
    }
  }
}

// The names a definition's expressions mention (and its factors score).
std::vector<const std::string*> NamesUsed(const CheckContext& ctx, const Symbol& s) {
  std::vector<const std::string*> names;
  auto name = [&](const ast::Expr& e) {
    if (e.kind == ast::ExprKind::kName) names.push_back(&e.text);
  };
  const size_t i = static_cast<size_t>(s.index);
  if (s.kind == Symbol::Kind::kLet) {
    walk::DeclNodes(*ctx.lets[i].decl, name);
  } else if (s.kind == Symbol::Kind::kBand) {
    walk::DeclNodes(*ctx.bands[i].decl, name);
  } else if (s.kind == Symbol::Kind::kTable) {
    walk::DeclNodes(*ctx.tables[i].decl, name);
  } else {
    walk::FactorSubjects(*ctx.scorecards[i].decl,
                         [&](const ast::Ident& subject) { names.push_back(&subject.name); });
    walk::DeclNodes(*ctx.scorecards[i].decl, name);
  }
  return names;
}

// The lets, bands, tables and scorecards in an order where each comes
// after the ones its expressions name: a depth-first walk, with a stack of
// its own, over the names each one mentions. A name may turn out to mean
// an enum symbol; the extra edge only constrains the order. Checking them
// in this order never nests (except around a cycle, which is an error).
std::vector<Symbol> DefinitionOrder(const CheckContext& ctx) {
  std::vector<Symbol> nodes;
  auto add = [&](Symbol::Kind kind, size_t n) {
    for (size_t i = 0; i < n; ++i) nodes.push_back({kind, static_cast<int>(i)});
  };
  add(Symbol::Kind::kLet, ctx.lets.size());
  add(Symbol::Kind::kBand, ctx.bands.size());
  add(Symbol::Kind::kTable, ctx.tables.size());
  add(Symbol::Kind::kScorecard, ctx.scorecards.size());
  auto id = [&](const Symbol& s) -> size_t {
    size_t base = 0;
    if (s.kind == Symbol::Kind::kBand) base = ctx.lets.size();
    if (s.kind == Symbol::Kind::kTable) base = ctx.lets.size() + ctx.bands.size();
    if (s.kind == Symbol::Kind::kScorecard)
      base = ctx.lets.size() + ctx.bands.size() + ctx.tables.size();
    return base + static_cast<size_t>(s.index);
  };
  std::vector<std::vector<size_t>> uses(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (const std::string* name : NamesUsed(ctx, nodes[n])) {
      auto it = ctx.values.find(*name);
      if (it == ctx.values.end()) continue;
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

NameRef SymbolRef(const EnumType* type, int ordinal) {
  NameRef ref;
  ref.symbol = {Symbol::Kind::kEnumSymbol, ordinal};
  ref.enum_type = type;
  return ref;
}

// An enum symbol named `name`, looked up in `hint` first, then in every
// enum (when exactly one has it); nullopt when no enum has it, kNone when
// several do (reported).
std::optional<NameRef> EnumSymbol(CheckContext& ctx, const ast::Expr& e, const Type* hint) {
  if (hint != nullptr && hint->enum_type != nullptr) {
    const int ordinal = hint->enum_type->Find(e.text);
    if (ordinal >= 0) return SymbolRef(hint->enum_type, ordinal);
  }
  const EnumType* found = nullptr;
  int ordinal = -1;
  std::vector<std::string> owners;
  for (const EnumType& type : ctx.policy->enums) {
    const int k = type.Find(e.text);
    if (k >= 0) {
      found = &type;
      ordinal = k;
      owners.push_back(type.name);
    }
  }
  if (owners.size() > 1) {
    ctx.Error("E0207", e.span,
              absl::StrCat(Quoted(e.text),
                           " is a symbol of several enums: ", absl::StrJoin(owners, ", ")),
              "compare it with a value of the enum you mean, e.g. `grade = A`");
    return NameRef{};
  }
  if (found == nullptr) return std::nullopt;
  return SymbolRef(found, ordinal);
}

}  // namespace

void CheckHeader(CheckContext& ctx) { CheckHeaderOf(ctx, *ctx.policy->program->files[0]); }

void ResolveEnumsAndReasons(CheckContext& ctx) {
  for (const ast::EnumDecl* e : ctx.enum_order) {
    EnumType type;
    type.name = e->name.name;
    type.span = e->span;
    for (const ast::Ident& symbol : e->symbols) {
      if (type.Find(symbol.name) >= 0) {
        ctx.Error("E0210", symbol.span,
                  absl::StrCat("symbol ", Quoted(symbol.name), " appears twice in enum ",
                               Quoted(type.name)));
        continue;
      }
      type.symbols.push_back(symbol.name);
    }
    if (static_cast<int>(type.symbols.size()) > EnumType::kMaxSymbols) {
      ctx.Error("E0210", e->name.span,
                absl::StrCat("enum ", Quoted(type.name), " has ", type.symbols.size(),
                             " symbols; at most ", EnumType::kMaxSymbols, " are allowed"));
      type.symbols.resize(EnumType::kMaxSymbols);
    }
    ctx.policy->enums.push_back(std::move(type));
    ctx.enums[e->name.name] = &ctx.policy->enums.back();
  }
  for (const ast::ReasonDecl* r : ctx.reason_decls) {
    const int existing = ctx.policy->FindReason(r->code.name);
    if (existing >= 0) {
      ctx.Error("E0202", r->code.span,
                absl::StrCat("reason ", Quoted(r->code.name), " is declared twice"),
                absl::StrCat(
                    "first declared at ",
                    Where(ctx.sources(), ctx.policy->reasons[static_cast<size_t>(existing)].span)));
      continue;
    }
    ctx.policy->reason_index.emplace(r->code.name, static_cast<int>(ctx.policy->reasons.size()));
    ctx.policy->reasons.push_back({r->code.name, r->message, r->span, {}});
  }
}

// The inputs and their types; their ranges and defaults come later
// (CheckInputRanges), as those may name other values.
void ResolveInputs(CheckContext& ctx) {
  for (const ast::InputDecl* decl : ctx.input_decls) {
    InputInfo info;
    info.name = decl->name.name;
    info.decl = decl;
    info.type = ResolveInputType(ctx, decl->type, &info.places);
    info.range = Domain::Full(info.type);
    if (decl->type.optional) {
      if (ctx.policy->edition < 2) {
        ctx.Error("E0108", decl->type.span, "optional inputs need edition 2",
                  "add `edition 2` to the header; it changes what some text means "
                  "(docs/language.md, Editions)");
      } else if (decl->default_value != nullptr) {
        ctx.Error("E0320", decl->default_value->span,
                  absl::StrCat("optional input ", Quoted(info.name), " has a default"),
                  absl::StrCat("an input is optional (`", dsl::FormatType(decl->type),
                               "`) or has a default, not both"));
      } else {
        info.optional = true;
      }
    }
    ctx.policy->input_index.emplace(info.name, static_cast<int>(ctx.policy->inputs.size()));
    ctx.policy->inputs.push_back(std::move(info));
  }
}

void ResolveOutputs(CheckContext& ctx) {
  for (const ast::OutputDecl* decl : ctx.output_decls) {
    if (ctx.policy->FindOutput(decl->name.name) >= 0) {
      ctx.Error("E0202", decl->name.span,
                absl::StrCat("output ", Quoted(decl->name.name), " is declared twice"));
      continue;
    }
    if (decl->name.name == "outcome") {
      ctx.Error("E0202", decl->name.span, "`outcome` is the decision's outcome, not an output name",
                "declare the outcome scale with `outcome <Enum> = <symbol>`");
      continue;
    }
    OutputInfo info;
    info.name = decl->name.name;
    info.decl = decl;
    info.type = ResolveOutputType(ctx, decl->type, &info.places);
    if (decl->priority) {
      const std::string& order = decl->priority->name;
      if (order == "lowest") {
        info.resolution = SetResolution::kLowest;
      } else if (order == "highest") {
        info.resolution = SetResolution::kHighest;
      } else {
        ctx.Error("E0317", decl->priority->span,
                  absl::StrCat("unknown output priority ", Quoted(order)),
                  "write `priority lowest` or `priority highest`");
      }
      if (info.resolution != SetResolution::kRulePriority && !info.type.is_error() &&
          !info.type.is_ordered()) {
        ctx.Error("E0317", decl->priority->span,
                  absl::StrCat("output ", Quoted(info.name), " of type ", T(info.type),
                               " has no lowest or highest value"));
      }
    }
    ctx.policy->output_index.emplace(info.name, static_cast<int>(ctx.policy->outputs.size()));
    ctx.policy->outputs.push_back(std::move(info));
  }
}

void ResolveOutcome(CheckContext& ctx) {
  if (ctx.outcome_decl == nullptr) return;
  auto it = ctx.enums.find(ctx.outcome_decl->scale.name);
  if (it == ctx.enums.end()) {
    ctx.Error("E0203", ctx.outcome_decl->scale.span,
              absl::StrCat("unknown enum ", Quoted(ctx.outcome_decl->scale.name)),
              "declare the outcome scale first, e.g. `enum Outcome { approve, refer, decline }`");
    return;
  }
  ctx.policy->outcome = it->second;
  ctx.policy->outcome_span = ctx.outcome_decl->span;
  if (ctx.outcome_decl->initial) {
    const int ordinal = it->second->Find(ctx.outcome_decl->initial->name);
    if (ordinal < 0) {
      ctx.Error("E0204", ctx.outcome_decl->initial->span,
                absl::StrCat(Quoted(ctx.outcome_decl->initial->name), " is not a symbol of ",
                             Quoted(it->second->name)));
    } else {
      ctx.policy->outcome_initial = ordinal;
    }
  }
}

Type ResolveType(CheckContext& ctx, const ast::TypeRef& ref) {
  RefuseOptional(ctx, ref);
  if (!ref.places.empty()) {
    ctx.Error("E0318", ref.span,
              ctx.policy->edition < 2 ? "decimal places are declared on inputs only"
                                      : "decimal places are declared on inputs and outputs only",
              absl::StrCat("write ", Quoted(ref.name),
                           ": a value the policy computes keeps every place; `round` it to fewer"));
  }
  return ResolveNamedType(ctx, ref);
}

void CollectDeclarations(CheckContext& ctx) {
  const Program& program = *ctx.policy->program;
  for (size_t f = 0; f < program.files.size(); ++f) Collect(ctx, *program.files[f], f == 0);
}

void OrderDefinitions(CheckContext& ctx) { ctx.policy->definition_order = DefinitionOrder(ctx); }

void OrderOutputs(CheckContext& ctx) {
  CheckedPolicy& policy = *ctx.policy;
  // Depth-first topological order, with a stack of its own (a chain of
  // outputs may be as long as the policy); a cycle is reported once.
  std::vector<int> state(policy.outputs.size(), 0);  // 0 new, 1 visiting, 2 done
  std::vector<std::pair<size_t, size_t>> stack;      // output, next dependency
  for (size_t root = 0; root < policy.outputs.size(); ++root) {
    if (state[root] != 0) continue;
    state[root] = 1;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [o, next] = stack.back();
      const std::vector<int>& depends_on = policy.outputs[o].depends_on;
      if (next < depends_on.size()) {
        const size_t d = static_cast<size_t>(depends_on[next++]);
        if (state[d] == 1) {
          const OutputInfo& out = policy.outputs[d];
          ctx.Error("E0211", out.decl->name.span,
                    absl::StrCat("output ", Quoted(out.name),
                                 " depends on itself through other outputs"));
        } else if (state[d] == 0) {
          state[d] = 1;
          stack.push_back({d, 0});
        }
        continue;
      }
      state[o] = 2;
      policy.output_order.push_back(static_cast<int>(o));
      stack.pop_back();
    }
  }
}

NameRef ResolveName(CheckContext& ctx, const ast::Expr& e, const Type* hint) {
  // An enum symbol of the expected enum wins over a value of the same name.
  if (hint != nullptr && hint->enum_type != nullptr && hint->enum_type->Find(e.text) >= 0) {
    return SymbolRef(hint->enum_type, hint->enum_type->Find(e.text));
  }
  auto it = ctx.values.find(e.text);
  if (it != ctx.values.end()) {
    NameRef ref;
    ref.symbol = it->second.first;
    if (ref.symbol.kind == Symbol::Kind::kInput) ctx.used_inputs.insert(ref.symbol.index);
    if (ref.symbol.kind == Symbol::Kind::kLet) ctx.used_lets.insert(ref.symbol.index);
    return ref;
  }
  if (ctx.current_output >= 0) {
    const int output = ctx.policy->FindOutput(e.text);
    if (output >= 0) {
      if (output == ctx.current_output) {
        ctx.Error("E0211", e.span, absl::StrCat("output ", Quoted(e.text), " depends on itself"),
                  "an output's value may use other outputs, not itself");
        return NameRef{};
      }
      ctx.policy->outputs[static_cast<size_t>(ctx.current_output)].depends_on.push_back(output);
      NameRef ref;
      ref.symbol = {Symbol::Kind::kOutput, output};
      return ref;
    }
  }
  std::optional<NameRef> symbol = EnumSymbol(ctx, e, hint);
  if (symbol) return *symbol;
  if (hint != nullptr && hint->enum_type != nullptr) {
    const std::string mean = DidYouMean(e.text, hint->enum_type->symbols);
    ctx.Error("E0204", e.span,
              absl::StrCat(Quoted(e.text), " is not a symbol of ", Quoted(hint->enum_type->name)),
              absl::StrCat(mean, mean.empty() ? "" : " ", "its symbols are ",
                           absl::StrJoin(hint->enum_type->symbols, ", ")));
  } else {
    ctx.Error("E0201", e.span, absl::StrCat("unknown name ", Quoted(e.text)),
              MeanOr(e.text, ValueNames(ctx), "declare it as an input or a let"));
  }
  return NameRef{};
}

std::optional<Symbol> ResolveMemberBase(CheckContext& ctx, const ast::Expr& e) {
  const ast::Expr& base = *e.args[0];
  if (base.kind != ast::ExprKind::kName) {
    ctx.Error("E0208", e.span, "only tables and scorecards have members");
    return std::nullopt;
  }
  auto it = ctx.values.find(base.text);
  if (it == ctx.values.end()) {
    ctx.Error("E0201", base.span, absl::StrCat("unknown name ", Quoted(base.text)),
              DidYouMean(base.text, ValueNames(ctx)));
    return std::nullopt;
  }
  return it->second.first;
}

bool ResolveMember(CheckContext& ctx, const ast::Expr& e, const Symbol& symbol, ExprInfo* info) {
  const ast::Expr& base = *e.args[0];
  if (symbol.kind == Symbol::Kind::kTable) {
    const TableInfo& table = ctx.table_infos[static_cast<size_t>(symbol.index)];
    for (size_t c = 0; c < table.decl->outputs.size(); ++c) {
      if (table.decl->outputs[c].name.name == e.text) {
        info->type = table.output_types[c];
        info->member = static_cast<int>(c);
        return true;
      }
    }
    std::vector<std::string> columns;
    for (const ast::TableColumn& c : table.decl->outputs) columns.push_back(c.name.name);
    const std::string mean = DidYouMean(e.text, columns);
    ctx.Error("E0208", e.span,
              absl::StrCat("table ", Quoted(base.text), " has no column ", Quoted(e.text)),
              absl::StrCat(mean, mean.empty() ? "" : " ", "its columns are ",
                           absl::StrJoin(columns, ", ")));
    return false;
  }
  if (symbol.kind == Symbol::Kind::kScorecard) {
    const ScorecardInfo& card = ctx.scorecard_infos[static_cast<size_t>(symbol.index)];
    info->type = Type::Of(TypeKind::kDecimal);
    if (e.text == "total") return true;
    for (size_t g = 0; g < card.groups.size(); ++g) {
      if (card.groups[g].name == e.text) {
        info->member = static_cast<int>(g);
        return true;
      }
      for (size_t f = 0; f < card.groups[g].factors.size(); ++f) {
        if (card.groups[g].factors[f].subject == e.text) {
          info->member = static_cast<int>(f);
          info->member_group = static_cast<int>(g);
          info->member_is_factor = true;
          return true;
        }
      }
    }
    std::vector<std::string> members = {"total"};
    for (const GroupInfo& group : card.groups) {
      members.push_back(group.name);
      for (const FactorInfo& factor : group.factors) members.push_back(factor.subject);
    }
    ctx.Error(
        "E0208", e.span,
        absl::StrCat("scorecard ", Quoted(base.text), " has no group or factor ", Quoted(e.text)),
        MeanOr(e.text, members, "use `total`, a group name or a factor's subject"));
    return false;
  }
  ctx.Error("E0208", e.span,
            absl::StrCat(Quoted(base.text), " has no members; only tables and scorecards do"));
  return false;
}

int ResolveReason(CheckContext& ctx, const ast::Ident& code) {
  const int reason = ctx.policy->FindReason(code.name);
  if (reason < 0) {
    std::vector<std::string> codes;
    for (const ReasonInfo& r : ctx.policy->reasons) codes.push_back(r.code);
    const std::string mean = DidYouMean(code.name, codes);
    ctx.Error(
        "E0205", code.span, absl::StrCat("unknown reason ", Quoted(code.name)),
        mean.empty() ? absl::StrCat("declare it: reason ", code.name, " \"what it means\"") : mean);
  }
  return reason;
}

int ResolveTarget(CheckContext& ctx, const ast::Ident& target) {
  const int index = ctx.policy->FindOutput(target.name);
  if (index < 0) {
    std::vector<std::string> names;
    for (const OutputInfo& o : ctx.policy->outputs) names.push_back(o.name);
    const std::string mean = DidYouMean(target.name, names);
    ctx.Error("E0206", target.span, absl::StrCat("unknown output ", Quoted(target.name)),
              names.empty() ? "declare it: output name: type = value"
                            : absl::StrCat(mean, mean.empty() ? "" : " ", "the outputs are ",
                                           absl::StrJoin(names, ", ")));
  }
  return index;
}

}  // namespace creditd::engine::check
