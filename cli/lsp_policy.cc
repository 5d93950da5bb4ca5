#include "cli/lsp_policy.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "dsl/formatter.h"
#include "engine/types.h"
#include "engine/value.h"

namespace creditd::cli::lsp {

namespace ast = dsl::ast;
using engine::CheckedPolicy;
using engine::Symbol;

namespace {

std::string TypeText(const ast::TypeRef& type) {
  if (type.is_set) return absl::StrCat("set of ", type.name);
  if (!type.places.empty()) return absl::StrCat(type.name, "(", type.places, ")");
  return type.name;
}

// The span of the last `length` characters of `span` (a member's name at
// the end of `table.column`, an enum's name at the end of `set of Enum`).
dsl::SourceSpan Tail(const dsl::SourceSpan& span, size_t length) {
  dsl::SourceSpan tail = span;
  tail.line = span.end_line;
  tail.column = span.end_column - static_cast<int>(length);
  if (tail.column < 1) tail.column = 1;
  return tail;
}

OutlineSymbol Entry(std::string name, std::string detail, int kind, const dsl::SourceSpan& span,
                    const dsl::SourceSpan& name_span) {
  OutlineSymbol symbol;
  symbol.name = std::move(name);
  symbol.detail = std::move(detail);
  symbol.kind = kind;
  symbol.span = span;
  symbol.name_span = name_span;
  return symbol;
}

bool IsIdentStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The tokens of a line up to the cursor, roughly as the lexer reads them;
// nullopt when the cursor is in a comment or a string.
std::optional<std::vector<std::string>> Tokens(absl::string_view text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#') {
      return std::nullopt;
    } else if (c == '"') {
      const size_t close = text.find('"', i + 1);
      if (close == absl::string_view::npos) return std::nullopt;
      tokens.emplace_back("\"\"");
      i = close + 1;
    } else if (IsIdentStart(c)) {
      size_t j = i;
      while (j < text.size() && IsIdentChar(text[j])) ++j;
      tokens.emplace_back(text.substr(i, j - i));
      i = j;
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < text.size() &&
             (IsIdentChar(text[j]) || text[j] == '.' || text[j] == '%' || text[j] == '-')) {
        ++j;
      }
      tokens.emplace_back("0");
      i = j;
    } else {
      const absl::string_view two = text.substr(i, 2);
      if (two == "<=" || two == ">=" || two == "!=" || two == "=>") {
        tokens.emplace_back(two);
        i += 2;
      } else {
        tokens.emplace_back(1, c);
        ++i;
      }
    }
  }
  return tokens;
}

const char* const kDeclarationKeywords[] = {"enum",    "reason", "input",     "output",
                                            "outcome", "let",    "scorecard", "band",
                                            "table",   "rule",   "import"};
const char* const kExpressionKeywords[] = {"and",  "or",   "not",  "in",   "if",
                                           "then", "else", "true", "false"};
const char* const kEffectKeywords[] = {"reason", "set", "cap", "raise", "add"};
const char* const kFunctions[] = {"min", "max", "abs", "round"};

void AddKeywords(const char* const* begin, const char* const* end, const std::string& sort,
                 std::vector<CompletionItem>* items) {
  for (const char* const* k = begin; k != end; ++k) {
    items->push_back({*k, completion_kind::kKeyword, "keyword", sort});
  }
}

}  // namespace

std::vector<OutlineSymbol> Outline(const ast::File& file) {
  std::vector<OutlineSymbol> symbols;
  for (const ast::Declaration& declaration : file.declarations) {
    if (const auto* e = std::get_if<ast::EnumDecl>(&declaration)) {
      OutlineSymbol symbol = Entry(e->name.name, "enum", symbol_kind::kEnum, e->span, e->name.span);
      for (const ast::Ident& s : e->symbols) {
        symbol.children.push_back(
            Entry(s.name, e->name.name, symbol_kind::kEnumMember, s.span, s.span));
      }
      symbols.push_back(std::move(symbol));
    } else if (const auto* r = std::get_if<ast::ReasonDecl>(&declaration)) {
      symbols.push_back(
          Entry(r->code.name, r->message, symbol_kind::kConstant, r->span, r->code.span));
    } else if (const auto* input = std::get_if<ast::InputDecl>(&declaration)) {
      symbols.push_back(Entry(input->name.name, absl::StrCat("input: ", TypeText(input->type)),
                              symbol_kind::kVariable, input->span, input->name.span));
    } else if (const auto* output = std::get_if<ast::OutputDecl>(&declaration)) {
      symbols.push_back(Entry(output->name.name, absl::StrCat("output: ", TypeText(output->type)),
                              symbol_kind::kField, output->span, output->name.span));
    } else if (const auto* let = std::get_if<ast::LetDecl>(&declaration)) {
      symbols.push_back(Entry(let->name.name,
                              let->type ? absl::StrCat("let: ", TypeText(*let->type)) : "let",
                              symbol_kind::kVariable, let->span, let->name.span));
    } else if (const auto* card = std::get_if<ast::ScorecardDecl>(&declaration)) {
      OutlineSymbol symbol =
          Entry(card->name.name, "scorecard", symbol_kind::kClass, card->span, card->name.span);
      for (const ast::ScoreGroup& group : card->groups) {
        OutlineSymbol g =
            Entry(group.name.name, group.weight ? "weight " + dsl::FormatExpr(*group.weight) : "",
                  symbol_kind::kModule, group.span, group.name.span);
        for (const ast::Factor& factor : group.factors) {
          g.children.push_back(Entry(factor.subject.name,
                                     factor.reason ? "reason " + factor.reason->name : "factor",
                                     symbol_kind::kField, factor.span, factor.subject.span));
        }
        symbol.children.push_back(std::move(g));
      }
      symbols.push_back(std::move(symbol));
    } else if (const auto* band = std::get_if<ast::BandDecl>(&declaration)) {
      symbols.push_back(Entry(band->name.name,
                              band->subject ? "band on " + dsl::FormatExpr(*band->subject) : "band",
                              symbol_kind::kFunction, band->span, band->name.span));
    } else if (const auto* table = std::get_if<ast::TableDecl>(&declaration)) {
      OutlineSymbol symbol =
          Entry(table->name.name, table->hit ? "table, hit " + table->hit->name : "table",
                symbol_kind::kStruct, table->span, table->name.span);
      for (const ast::TableColumn& column : table->outputs) {
        symbol.children.push_back(Entry(column.name.name, TypeText(column.type),
                                        symbol_kind::kField, column.span, column.name.span));
      }
      symbols.push_back(std::move(symbol));
    } else if (const auto* rule = std::get_if<ast::RuleDecl>(&declaration)) {
      symbols.push_back(Entry(rule->id.name,
                              rule->priority ? "rule, priority " + *rule->priority : "rule",
                              symbol_kind::kEvent, rule->span, rule->id.span));
    }
    // `outcome` names no declaration of its own.
  }
  return symbols;
}

PolicyIndex::PolicyIndex(const CheckedPolicy& policy) : policy_(policy) {
  checked_ = !policy.name.empty();
  if (policy.program == nullptr) return;
  for (const auto& file : policy.program->files) AddDeclarations(*file);
  for (const auto& file : policy.program->files) {
    if (file->file == 0) AddReferences(*file);
  }
}

void PolicyIndex::AddDeclarations(const ast::File& file) {
  auto add = [this](DeclKind kind, std::string key, const dsl::SourceSpan& name,
                    const dsl::SourceSpan& span) {
    Declaration d{kind, key, name, span};
    declarations_.emplace(std::make_pair(static_cast<int>(kind), std::move(key)), std::move(d));
  };
  for (const ast::Declaration& declaration : file.declarations) {
    if (const auto* e = std::get_if<ast::EnumDecl>(&declaration)) {
      add(DeclKind::kEnum, e->name.name, e->name.span, e->span);
      for (const ast::Ident& s : e->symbols) {
        add(DeclKind::kEnumSymbol, absl::StrCat(e->name.name, ".", s.name), s.span, s.span);
      }
    } else if (const auto* r = std::get_if<ast::ReasonDecl>(&declaration)) {
      add(DeclKind::kReason, r->code.name, r->code.span, r->span);
    } else if (const auto* input = std::get_if<ast::InputDecl>(&declaration)) {
      add(DeclKind::kInput, input->name.name, input->name.span, input->span);
    } else if (const auto* output = std::get_if<ast::OutputDecl>(&declaration)) {
      add(DeclKind::kOutput, output->name.name, output->name.span, output->span);
    } else if (const auto* let = std::get_if<ast::LetDecl>(&declaration)) {
      add(DeclKind::kLet, let->name.name, let->name.span, let->span);
    } else if (const auto* card = std::get_if<ast::ScorecardDecl>(&declaration)) {
      add(DeclKind::kScorecard, card->name.name, card->name.span, card->span);
      for (const ast::ScoreGroup& group : card->groups) {
        const std::string prefix = absl::StrCat(card->name.name, ".", group.name.name);
        add(DeclKind::kGroup, prefix, group.name.span, group.span);
        for (const ast::Factor& factor : group.factors) {
          add(DeclKind::kFactor, absl::StrCat(prefix, ".", factor.subject.name),
              factor.subject.span, factor.span);
        }
      }
    } else if (const auto* band = std::get_if<ast::BandDecl>(&declaration)) {
      add(DeclKind::kBand, band->name.name, band->name.span, band->span);
    } else if (const auto* table = std::get_if<ast::TableDecl>(&declaration)) {
      add(DeclKind::kTable, table->name.name, table->name.span, table->span);
      for (const ast::TableColumn& column : table->outputs) {
        add(DeclKind::kColumn, absl::StrCat(table->name.name, ".", column.name.name),
            column.name.span, column.span);
      }
    } else if (const auto* rule = std::get_if<ast::RuleDecl>(&declaration)) {
      add(DeclKind::kRule, rule->id.name, rule->id.span, rule->span);
    }
  }
}

void PolicyIndex::AddRef(const dsl::SourceSpan& span, DeclKind kind, std::string key) {
  if (!span.known() || span.file != 0) return;
  references_.push_back({span, kind, std::move(key)});
}

void PolicyIndex::AddType(const ast::TypeRef& type) {
  if (Find(DeclKind::kEnum, type.name) == nullptr) return;
  AddRef(Tail(type.span, type.name.size()), DeclKind::kEnum, type.name);
}

void PolicyIndex::AddValueName(const ast::Ident& name) {
  for (DeclKind kind : {DeclKind::kInput, DeclKind::kLet, DeclKind::kBand, DeclKind::kTable,
                        DeclKind::kScorecard}) {
    if (Find(kind, name.name) != nullptr) {
      AddRef(name.span, kind, name.name);
      return;
    }
  }
}

void PolicyIndex::AddInterval(const ast::Interval& interval) {
  if (interval.low) AddExpr(*interval.low);
  if (interval.high) AddExpr(*interval.high);
}

void PolicyIndex::AddTest(const ast::Test& test) {
  if (test.value) AddExpr(*test.value);
  if (test.interval) AddInterval(*test.interval);
  for (const ast::ExprPtr& e : test.set) {
    if (e) AddExpr(*e);
  }
}

void PolicyIndex::AddExpr(const ast::Expr& e) {
  for (const ast::ExprPtr& arg : e.args) {
    if (arg) AddExpr(*arg);
  }
  if (e.interval) AddInterval(*e.interval);
  if (e.kind != ast::ExprKind::kName && e.kind != ast::ExprKind::kMember) return;
  const engine::ExprInfo* info = policy_.Info(&e);
  if (info == nullptr) return;
  const int i = info->symbol.index;
  auto name_in = [i](const auto& infos) -> const std::string* {
    return i >= 0 && static_cast<size_t>(i) < infos.size() ? &infos[static_cast<size_t>(i)].name
                                                           : nullptr;
  };
  if (e.kind == ast::ExprKind::kMember) {
    const dsl::SourceSpan span = Tail(e.span, e.text.size());
    if (info->symbol.kind == Symbol::Kind::kTable) {
      const std::string* table = name_in(policy_.tables);
      if (table != nullptr) AddRef(span, DeclKind::kColumn, absl::StrCat(*table, ".", e.text));
    } else if (info->symbol.kind == Symbol::Kind::kScorecard) {
      const std::string* card = name_in(policy_.scorecards);
      if (card == nullptr) return;
      const engine::ScorecardInfo& info_card = policy_.scorecards[static_cast<size_t>(i)];
      const int g = info->member_is_factor ? info->member_group : info->member;
      if (g < 0 || static_cast<size_t>(g) >= info_card.groups.size()) {
        AddRef(span, DeclKind::kScorecard, *card);  // `total`
      } else if (info->member_is_factor) {
        AddRef(
            span, DeclKind::kFactor,
            absl::StrCat(*card, ".", info_card.groups[static_cast<size_t>(g)].name, ".", e.text));
      } else {
        AddRef(span, DeclKind::kGroup, absl::StrCat(*card, ".", e.text));
      }
    }
    return;
  }
  const std::string* name = nullptr;
  DeclKind kind = DeclKind::kInput;
  switch (info->symbol.kind) {
    case Symbol::Kind::kInput:
      name = name_in(policy_.inputs);
      kind = DeclKind::kInput;
      break;
    case Symbol::Kind::kLet:
      name = name_in(policy_.lets);
      kind = DeclKind::kLet;
      break;
    case Symbol::Kind::kBand:
      name = name_in(policy_.bands);
      kind = DeclKind::kBand;
      break;
    case Symbol::Kind::kTable:
      name = name_in(policy_.tables);
      kind = DeclKind::kTable;
      break;
    case Symbol::Kind::kScorecard:
      name = name_in(policy_.scorecards);
      kind = DeclKind::kScorecard;
      break;
    case Symbol::Kind::kOutput:
      name = name_in(policy_.outputs);
      kind = DeclKind::kOutput;
      break;
    case Symbol::Kind::kEnumSymbol: {
      const engine::EnumType* type = info->type.enum_type;
      if (type != nullptr && i >= 0 && static_cast<size_t>(i) < type->symbols.size()) {
        AddRef(e.span, DeclKind::kEnumSymbol,
               absl::StrCat(type->name, ".", type->symbols[static_cast<size_t>(i)]));
      }
      return;
    }
    case Symbol::Kind::kToday:  // built in: nothing declares it
    case Symbol::Kind::kNone:
      return;
  }
  if (name != nullptr) AddRef(e.span, kind, *name);
}

void PolicyIndex::AddReferences(const ast::File& file) {
  for (const ast::Declaration& declaration : file.declarations) {
    if (const auto* e = std::get_if<ast::EnumDecl>(&declaration)) {
      AddRef(e->name.span, DeclKind::kEnum, e->name.name);
      for (const ast::Ident& s : e->symbols) {
        AddRef(s.span, DeclKind::kEnumSymbol, absl::StrCat(e->name.name, ".", s.name));
      }
    } else if (const auto* r = std::get_if<ast::ReasonDecl>(&declaration)) {
      AddRef(r->code.span, DeclKind::kReason, r->code.name);
    } else if (const auto* input = std::get_if<ast::InputDecl>(&declaration)) {
      AddRef(input->name.span, DeclKind::kInput, input->name.name);
      AddType(input->type);
      if (input->constraint) AddTest(*input->constraint);
      if (input->default_value) AddExpr(*input->default_value);
    } else if (const auto* output = std::get_if<ast::OutputDecl>(&declaration)) {
      AddRef(output->name.span, DeclKind::kOutput, output->name.name);
      AddType(output->type);
      if (output->value) AddExpr(*output->value);
    } else if (const auto* outcome = std::get_if<ast::OutcomeDecl>(&declaration)) {
      AddRef(outcome->scale.span, DeclKind::kEnum, outcome->scale.name);
      if (outcome->initial) {
        AddRef(outcome->initial->span, DeclKind::kEnumSymbol,
               absl::StrCat(outcome->scale.name, ".", outcome->initial->name));
      }
    } else if (const auto* let = std::get_if<ast::LetDecl>(&declaration)) {
      AddRef(let->name.span, DeclKind::kLet, let->name.name);
      if (let->type) AddType(*let->type);
      if (let->value) AddExpr(*let->value);
    } else if (const auto* card = std::get_if<ast::ScorecardDecl>(&declaration)) {
      AddRef(card->name.span, DeclKind::kScorecard, card->name.name);
      for (const ast::ScoreGroup& group : card->groups) {
        AddRef(group.name.span, DeclKind::kGroup,
               absl::StrCat(card->name.name, ".", group.name.name));
        if (group.weight) AddExpr(*group.weight);
        for (const ast::Factor& factor : group.factors) {
          AddValueName(factor.subject);
          if (factor.reason) AddRef(factor.reason->span, DeclKind::kReason, factor.reason->name);
          if (factor.reason_threshold) AddExpr(*factor.reason_threshold);
          for (const ast::Row& row : factor.rows) {
            AddTest(row.test);
            if (row.value) AddExpr(*row.value);
          }
        }
      }
    } else if (const auto* band = std::get_if<ast::BandDecl>(&declaration)) {
      AddRef(band->name.span, DeclKind::kBand, band->name.name);
      if (band->type) AddType(*band->type);
      if (band->subject) AddExpr(*band->subject);
      for (const ast::Row& row : band->rows) {
        AddTest(row.test);
        if (row.value) AddExpr(*row.value);
      }
    } else if (const auto* table = std::get_if<ast::TableDecl>(&declaration)) {
      AddRef(table->name.span, DeclKind::kTable, table->name.name);
      for (const ast::ExprPtr& condition : table->inputs) {
        if (condition) AddExpr(*condition);
      }
      for (const ast::TableColumn& column : table->outputs) {
        AddRef(column.name.span, DeclKind::kColumn,
               absl::StrCat(table->name.name, ".", column.name.name));
        AddType(column.type);
      }
      for (const ast::TableRow& row : table->rows) {
        for (const ast::Test& test : row.tests) AddTest(test);
        for (const ast::ExprPtr& value : row.values) {
          if (value) AddExpr(*value);
        }
      }
    } else if (const auto* rule = std::get_if<ast::RuleDecl>(&declaration)) {
      AddRef(rule->id.span, DeclKind::kRule, rule->id.name);
      if (rule->condition) AddExpr(*rule->condition);
      for (const ast::Effect& effect : rule->effects) {
        if (effect.kind == ast::EffectKind::kOutcome) {
          if (policy_.outcome != nullptr) {
            AddRef(effect.target.span, DeclKind::kEnumSymbol,
                   absl::StrCat(policy_.outcome->name, ".", effect.target.name));
          }
        } else if (effect.kind != ast::EffectKind::kReason) {
          AddRef(effect.target.span, DeclKind::kOutput, effect.target.name);
        }
        if (effect.code) AddRef(effect.code->span, DeclKind::kReason, effect.code->name);
        if (effect.value) AddExpr(*effect.value);
      }
    }
  }
}

const Reference* PolicyIndex::At(const EngineLocation& at) const {
  const Reference* best = nullptr;
  int best_width = 0;
  for (const Reference& r : references_) {
    const dsl::SourceSpan& s = r.span;
    const bool after_start = at.line > s.line || (at.line == s.line && at.column >= s.column);
    const bool before_end =
        at.line < s.end_line || (at.line == s.end_line && at.column <= s.end_column);
    if (!after_start || !before_end) continue;
    const int width = s.line == s.end_line ? s.end_column - s.column : 1 << 30;
    if (best == nullptr || width < best_width) {
      best = &r;
      best_width = width;
    }
  }
  return best;
}

const Declaration* PolicyIndex::Find(DeclKind kind, const std::string& key) const {
  auto it = declarations_.find(std::make_pair(static_cast<int>(kind), key));
  return it == declarations_.end() ? nullptr : &it->second;
}

const engine::TableInfo* PolicyIndex::FindTable(absl::string_view name) const {
  for (const engine::TableInfo& t : policy_.tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const engine::ScorecardInfo* PolicyIndex::FindScorecard(absl::string_view name) const {
  for (const engine::ScorecardInfo& s : policy_.scorecards) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const engine::EnumType* PolicyIndex::FindEnum(absl::string_view name) const {
  for (const engine::EnumType& e : policy_.enums) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::optional<engine::Type> PolicyIndex::ValueType(absl::string_view name) const {
  const int input = policy_.FindInput(std::string(name));
  if (input >= 0) return policy_.inputs[static_cast<size_t>(input)].type;
  for (const engine::LetInfo& let : policy_.lets) {
    if (let.name == name) return let.type;
  }
  for (const engine::BandInfo& band : policy_.bands) {
    if (band.name == name) return band.type;
  }
  const int output = policy_.FindOutput(std::string(name));
  if (output >= 0) return policy_.outputs[static_cast<size_t>(output)].type;
  return std::nullopt;
}

std::optional<HoverText> PolicyIndex::Hover(const Reference& reference) const {
  if (!checked_) return std::nullopt;
  using engine::TypeName;
  const std::string& key = reference.key;
  HoverText hover;
  auto split = [&key]() -> std::pair<std::string, std::string> {
    const size_t dot = key.find('.');
    if (dot == std::string::npos) return {key, ""};
    return {key.substr(0, dot), key.substr(dot + 1)};
  };
  switch (reference.kind) {
    case DeclKind::kInput: {
      const int i = policy_.FindInput(key);
      if (i < 0) return std::nullopt;
      const engine::InputInfo& input = policy_.inputs[static_cast<size_t>(i)];
      std::string type = TypeName(input.type);
      if (input.decl != nullptr && !input.decl->type.places.empty()) {
        type = TypeText(input.decl->type);
      }
      hover.signature = absl::StrCat("input ", input.name, ": ", type);
      hover.notes.push_back(input.has_range ? absl::StrCat("range: `", input.range.ToString(), "`")
                                            : absl::StrCat("range: any ", type));
      hover.notes.push_back(
          input.default_value
              ? absl::StrCat("default: `", engine::FormatValue(*input.default_value, input.type),
                             "`")
              : "no default");
      break;
    }
    case DeclKind::kOutput: {
      const int i = policy_.FindOutput(key);
      if (i < 0) return std::nullopt;
      const engine::OutputInfo& output = policy_.outputs[static_cast<size_t>(i)];
      hover.signature = absl::StrCat("output ", output.name, ": ", TypeName(output.type));
      if (output.decl != nullptr && output.decl->value) {
        absl::StrAppend(&hover.signature, " = ", dsl::FormatExpr(*output.decl->value));
      }
      if (output.resolution == engine::SetResolution::kLowest) {
        absl::StrAppend(&hover.signature, " priority lowest");
      } else if (output.resolution == engine::SetResolution::kHighest) {
        absl::StrAppend(&hover.signature, " priority highest");
      }
      break;
    }
    case DeclKind::kLet: {
      const auto it = std::find_if(policy_.lets.begin(), policy_.lets.end(),
                                   [&](const engine::LetInfo& l) { return l.name == key; });
      if (it == policy_.lets.end()) return std::nullopt;
      hover.signature = absl::StrCat("let ", it->name, ": ", TypeName(it->type));
      if (it->decl != nullptr && it->decl->value) {
        absl::StrAppend(&hover.signature, " = ", dsl::FormatExpr(*it->decl->value));
      }
      break;
    }
    case DeclKind::kBand: {
      const auto it = std::find_if(policy_.bands.begin(), policy_.bands.end(),
                                   [&](const engine::BandInfo& b) { return b.name == key; });
      if (it == policy_.bands.end()) return std::nullopt;
      hover.signature = absl::StrCat("band ", it->name, ": ", TypeName(it->type));
      if (it->decl != nullptr && it->decl->subject) {
        absl::StrAppend(&hover.signature, " on ", dsl::FormatExpr(*it->decl->subject));
      }
      hover.notes.push_back(absl::StrCat("maps a `", TypeName(it->subject_type), "` to a `",
                                         TypeName(it->type), "`"));
      break;
    }
    case DeclKind::kTable: {
      const engine::TableInfo* table = FindTable(key);
      if (table == nullptr || table->decl == nullptr) return std::nullopt;
      hover.signature = absl::StrCat("table ", table->name, " hit ",
                                     table->decl->hit ? table->decl->hit->name : "first");
      if (table->decl->aggregate)
        absl::StrAppend(&hover.signature, " ", table->decl->aggregate->name);
      std::vector<std::string> columns;
      for (size_t c = 0; c < table->decl->outputs.size() && c < table->output_types.size(); ++c) {
        columns.push_back(absl::StrCat("`", table->decl->outputs[c].name.name, ": ",
                                       TypeName(table->output_types[c]), "`"));
      }
      hover.notes.push_back(absl::StrCat("results: ", absl::StrJoin(columns, ", ")));
      break;
    }
    case DeclKind::kColumn: {
      const auto [table_name, column] = split();
      const engine::TableInfo* table = FindTable(table_name);
      if (table == nullptr || table->decl == nullptr) return std::nullopt;
      for (size_t c = 0; c < table->decl->outputs.size() && c < table->output_types.size(); ++c) {
        if (table->decl->outputs[c].name.name == column) {
          hover.signature = absl::StrCat(key, ": ", TypeName(table->output_types[c]));
        }
      }
      if (hover.signature.empty()) return std::nullopt;
      hover.notes.push_back(absl::StrCat("a result of table `", table_name, "`"));
      break;
    }
    case DeclKind::kScorecard: {
      const engine::ScorecardInfo* card = FindScorecard(key);
      if (card == nullptr) return std::nullopt;
      hover.signature = absl::StrCat("scorecard ", card->name);
      std::vector<std::string> groups;
      for (const engine::GroupInfo& g : card->groups) {
        groups.push_back(absl::StrCat(
            "`", g.name, "`",
            g.decl != nullptr && g.decl->weight ? " " + dsl::FormatExpr(*g.decl->weight) : ""));
      }
      hover.notes.push_back(absl::StrCat("groups: ", absl::StrJoin(groups, ", ")));
      hover.notes.push_back(absl::StrCat("`", card->name, ".total`: decimal"));
      break;
    }
    case DeclKind::kGroup:
    case DeclKind::kFactor: {
      const size_t dot = key.find('.');
      if (dot == std::string::npos) return std::nullopt;
      const engine::ScorecardInfo* card = FindScorecard(key.substr(0, dot));
      if (card == nullptr) return std::nullopt;
      const std::string rest = key.substr(dot + 1);
      const size_t dot2 = rest.find('.');
      const std::string group_name = rest.substr(0, dot2);
      for (const engine::GroupInfo& g : card->groups) {
        if (g.name != group_name) continue;
        if (reference.kind == DeclKind::kGroup) {
          hover.signature = absl::StrCat(card->name, ".", g.name, ": decimal");
          hover.notes.push_back(
              absl::StrCat("group of scorecard `", card->name, "`",
                           g.decl != nullptr && g.decl->weight
                               ? absl::StrCat(", weight `", dsl::FormatExpr(*g.decl->weight), "`")
                               : ""));
          break;
        }
        const std::string subject = dot2 == std::string::npos ? "" : rest.substr(dot2 + 1);
        for (const engine::FactorInfo& f : g.factors) {
          if (f.subject != subject) continue;
          hover.signature = absl::StrCat(card->name, ".", f.subject, ": decimal");
          std::string note = absl::StrCat("factor of group `", g.name, "` scoring a `",
                                          TypeName(f.subject_type), "`");
          if (f.reason >= 0 && static_cast<size_t>(f.reason) < policy_.reasons.size()) {
            absl::StrAppend(&note, ", reason `",
                            policy_.reasons[static_cast<size_t>(f.reason)].code, "`");
          }
          hover.notes.push_back(std::move(note));
        }
      }
      if (hover.signature.empty()) return std::nullopt;
      break;
    }
    case DeclKind::kEnum:
    case DeclKind::kEnumSymbol: {
      const auto [enum_name, symbol] = split();
      const engine::EnumType* type = FindEnum(enum_name);
      if (type == nullptr) return std::nullopt;
      hover.signature =
          absl::StrCat("enum ", type->name, " { ", absl::StrJoin(type->symbols, ", "), " }");
      if (reference.kind == DeclKind::kEnumSymbol) {
        const int ordinal = type->Find(symbol);
        if (ordinal < 0) return std::nullopt;
        hover.notes.push_back(absl::StrCat("`", symbol, "`: symbol ", ordinal + 1, " of ",
                                           type->symbols.size(), ", lowest first"));
      } else {
        hover.notes.push_back("ordered, lowest first");
      }
      break;
    }
    case DeclKind::kReason: {
      const int i = policy_.FindReason(key);
      if (i < 0) return std::nullopt;
      const engine::ReasonInfo& reason = policy_.reasons[static_cast<size_t>(i)];
      hover.signature =
          absl::StrCat("reason ", reason.code, " \"",
                       absl::StrReplaceAll(reason.message, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
      hover.notes.push_back(absl::StrCat("message: ", reason.message));
      break;
    }
    case DeclKind::kRule: {
      const auto it = std::find_if(policy_.rules.begin(), policy_.rules.end(),
                                   [&](const engine::RuleInfo& r) { return r.id == key; });
      if (it == policy_.rules.end()) return std::nullopt;
      hover.signature = absl::StrCat("rule ", it->id);
      if (it->priority) absl::StrAppend(&hover.signature, " priority ", *it->priority);
      break;
    }
  }
  const Declaration* declaration = Find(reference.kind, key);
  if (declaration != nullptr && declaration->name_span.file > 0 && policy_.program != nullptr &&
      declaration->name_span.file < policy_.program->sources.size()) {
    // Named as the policy imports it when it lies beside or below it.
    const dsl::SourceSet& sources = policy_.program->sources;
    const std::string& path = sources.file(declaration->name_span.file).path();
    const std::string& own = sources.file(0).path();
    const size_t dir = own.rfind('/') + 1;  // 0 when the policy's path has no directory
    const bool below = dir > 0 && path.size() > dir && path.compare(0, dir, own, 0, dir) == 0;
    hover.notes.push_back(absl::StrCat("declared in `", below ? path.substr(dir) : path, "`"));
  }
  return hover;
}

void PolicyIndex::AddValueItems(std::vector<CompletionItem>* items) const {
  using engine::TypeName;
  for (const engine::InputInfo& v : policy_.inputs) {
    items->push_back({v.name, completion_kind::kVariable, "input: " + TypeName(v.type), "1"});
  }
  for (const engine::LetInfo& v : policy_.lets) {
    items->push_back({v.name, completion_kind::kVariable, "let: " + TypeName(v.type), "1"});
  }
  for (const engine::OutputInfo& v : policy_.outputs) {
    items->push_back({v.name, completion_kind::kField, "output: " + TypeName(v.type), "1"});
  }
  for (const engine::BandInfo& v : policy_.bands) {
    items->push_back({v.name, completion_kind::kFunction, "band: " + TypeName(v.type), "1"});
  }
  for (const engine::TableInfo& v : policy_.tables) {
    items->push_back({v.name, completion_kind::kStruct, "table", "1"});
  }
  for (const engine::ScorecardInfo& v : policy_.scorecards) {
    items->push_back({v.name, completion_kind::kClass, "scorecard", "1"});
  }
}

void PolicyIndex::AddSymbolItems(const engine::EnumType* first,
                                 std::vector<CompletionItem>* items) const {
  for (const engine::EnumType& type : policy_.enums) {
    for (const std::string& symbol : type.symbols) {
      items->push_back(
          {symbol, completion_kind::kEnumMember, type.name, &type == first ? "0" : "2"});
    }
  }
}

void PolicyIndex::AddReasonItems(std::vector<CompletionItem>* items) const {
  for (const engine::ReasonInfo& reason : policy_.reasons) {
    items->push_back({reason.code, completion_kind::kConstant, reason.message, "0"});
  }
}

void PolicyIndex::AddOutputItems(bool sets_only, std::vector<CompletionItem>* items) const {
  for (const engine::OutputInfo& v : policy_.outputs) {
    if (sets_only && v.type.kind != engine::TypeKind::kEnumSet) continue;
    items->push_back({v.name, completion_kind::kField, "output: " + engine::TypeName(v.type), "0"});
  }
}

void PolicyIndex::AddTypeItems(std::vector<CompletionItem>* items) const {
  for (const char* builtin : {"bool", "int", "decimal", "money", "percent", "date"}) {
    items->push_back({builtin, completion_kind::kTypeParameter, "type", "0"});
  }
  for (const engine::EnumType& type : policy_.enums) {
    items->push_back({type.name, completion_kind::kEnum, "enum", "1"});
  }
  items->push_back({"set", completion_kind::kKeyword, "set of an enum", "2"});
}

std::vector<CompletionItem> PolicyIndex::Complete(absl::string_view before) const {
  std::vector<CompletionItem> items;
  // The word being typed is left for the client to filter by.
  size_t word = before.size();
  while (word > 0 && IsIdentChar(before[word - 1])) --word;
  const bool indented = !before.empty() && (before[0] == ' ' || before[0] == '\t');
  std::optional<std::vector<std::string>> parsed = Tokens(before.substr(0, word));
  if (!parsed) return items;  // in a comment or a string
  const std::vector<std::string>& t = *parsed;
  auto back = [&t](size_t i) -> std::string {  // back(0) is the last token
    return i < t.size() ? t[t.size() - 1 - i] : std::string();
  };
  auto has = [&t](absl::string_view token) {
    return std::find(t.begin(), t.end(), token) != t.end();
  };
  const std::string last = back(0);
  const bool outcome_symbol =
      policy_.outcome != nullptr && !last.empty() && policy_.outcome->Find(last) >= 0;

  if (last == ".") {
    const std::string base = back(1);
    if (const engine::TableInfo* table = FindTable(base); table != nullptr && table->decl) {
      for (size_t c = 0; c < table->decl->outputs.size() && c < table->output_types.size(); ++c) {
        items.push_back({table->decl->outputs[c].name.name, completion_kind::kField,
                         engine::TypeName(table->output_types[c]), "0"});
      }
    } else if (const engine::ScorecardInfo* card = FindScorecard(base); card != nullptr) {
      items.push_back({"total", completion_kind::kField, "decimal: the scorecard's total", "0"});
      for (const engine::GroupInfo& g : card->groups) {
        items.push_back({g.name, completion_kind::kField, "decimal: group", "1"});
        for (const engine::FactorInfo& f : g.factors) {
          items.push_back({f.subject, completion_kind::kField,
                           absl::StrCat("decimal: factor of ", g.name), "2"});
        }
      }
    }
    return items;
  }
  if (last == ":") {
    AddTypeItems(&items);
    return items;
  }
  if (last == "reason") {
    // `reason CODE "message"` at the start of a line declares a new code.
    if (t.size() == 1 && !indented) return items;
    AddReasonItems(&items);
    return items;
  }
  if (outcome_symbol && (t.size() == 1 || back(1) == "then")) {
    AddReasonItems(&items);
    return items;
  }
  if (last == "then") {
    if (policy_.outcome != nullptr) {
      for (const std::string& s : policy_.outcome->symbols) {
        items.push_back({s, completion_kind::kEnumMember, policy_.outcome->name, "0"});
      }
    }
    AddKeywords(std::begin(kEffectKeywords), std::end(kEffectKeywords), "1", &items);
    return items;
  }
  if (last == "set" && back(1) == ":") {
    items.push_back({"of", completion_kind::kKeyword, "keyword", "0"});
    return items;
  }
  if (last == "set" || last == "cap" || last == "raise") {
    AddOutputItems(false, &items);
    return items;
  }
  if (last == "of" || last == "outcome") {
    for (const engine::EnumType& type : policy_.enums) {
      items.push_back({type.name, completion_kind::kEnum, "enum", "0"});
    }
    return items;
  }
  if (last == "to" && has("add")) {
    AddOutputItems(true, &items);
    return items;
  }
  if (last == "add") {
    AddSymbolItems(nullptr, &items);
    return items;
  }
  if (last == "hit") {
    for (const char* hit : {"first", "unique", "priority", "collect"}) {
      items.push_back({hit, completion_kind::kKeyword, "hit policy", "0"});
    }
    return items;
  }
  if (last == "collect" && back(1) == "hit") {
    for (const char* aggregate : {"sum", "min", "max"}) {
      items.push_back({aggregate, completion_kind::kKeyword, "aggregate", "0"});
    }
    return items;
  }
  if (last == "priority") {
    if (has("output")) {
      for (const char* order : {"lowest", "highest"}) {
        items.push_back({order, completion_kind::kKeyword, "keyword", "0"});
      }
    }
    return items;
  }
  if (last == "factor") {
    for (const engine::InputInfo& v : policy_.inputs) {
      items.push_back({v.name, completion_kind::kVariable, "input: " + engine::TypeName(v.type)});
    }
    for (const engine::LetInfo& v : policy_.lets) {
      items.push_back({v.name, completion_kind::kVariable, "let: " + engine::TypeName(v.type)});
    }
    return items;
  }
  for (const char* keyword : {"enum", "input", "output", "let", "band", "table", "scorecard",
                              "rule", "group", "policy", "library", "import"}) {
    if (last == keyword) return items;  // a new name, or a path
  }
  if (t.empty() && !indented) {
    AddKeywords(std::begin(kDeclarationKeywords), std::end(kDeclarationKeywords), "0", &items);
    return items;
  }
  // An expression. A symbol of the enum it is compared with, assigned or
  // raised to ranks first: `grade = `, `segment in {new, `, `raise warning to `.
  const engine::EnumType* hint = nullptr;
  std::string subject;
  if (last == "to" && back(2) == "raise") {
    subject = back(1);
  } else if (last == "=" || last == "!=" || last == "<" || last == "<=" || last == ">" ||
             last == ">=") {
    subject = back(1);
  } else if (last == "{" || last == ",") {
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      if (back(i) == "{" && back(i + 1) == "in") {
        subject = back(i + 2) == "not" ? back(i + 3) : back(i + 2);
        break;
      }
    }
  }
  if (!subject.empty()) {
    std::optional<engine::Type> type = ValueType(subject);
    if (type) hint = type->enum_type;
  }
  AddSymbolItems(hint, &items);
  AddValueItems(&items);
  for (const char* function : kFunctions) {
    items.push_back({function, completion_kind::kFunction, "function", "1"});
  }
  if (policy_.edition >= 2) {
    for (const char* function : {"given", "percent"}) {
      items.push_back({function, completion_kind::kFunction, "function (edition 2)", "1"});
    }
    items.push_back({"today", completion_kind::kConstant, "date: the evaluation date", "1"});
  }
  AddKeywords(std::begin(kExpressionKeywords), std::end(kExpressionKeywords), "3", &items);
  if (t.empty()) {
    for (const char* k : {"when", "then", "group", "factor", "weight"}) {
      items.push_back({k, completion_kind::kKeyword, "keyword", "3"});
    }
    AddKeywords(std::begin(kEffectKeywords), std::end(kEffectKeywords), "3", &items);
  }
  return items;
}

}  // namespace creditd::cli::lsp
