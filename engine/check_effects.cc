// The effects pass: rules (ids, priorities, conditions) and their effects,
// outputs that nothing sets, inputs that nothing reads.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/check_context.h"

namespace creditd::engine::check {

namespace {

// Checks an effect's value against the output it sets, caps or raises.
void CheckEffectValue(CheckContext& ctx, const ast::Effect& effect, const OutputInfo& out) {
  ExprInfo v = CheckExpr(ctx, *effect.value, &out.type);
  if (!v.type.is_error() && !Assignable(v, out.type)) {
    ctx.Error(
        "E0304", effect.value->span,
        absl::StrCat("output ", Quoted(out.name), " is ", T(out.type), ", found ", T(v.type)));
    return;
  }
  CheckPlacesFit(ctx, v, out, *effect.value);
}

// Checks one effect of `rule`, and says in `resolved` what it refers to.
void CheckEffect(CheckContext& ctx, const RuleInfo& rule, const ast::Effect& effect,
                 bool rule_has_reason, EffectInfo* resolved) {
  if (effect.code) resolved->reason = ResolveReason(ctx, *effect.code);
  switch (effect.kind) {
    case ast::EffectKind::kOutcome: {
      if (ctx.policy->outcome == nullptr) {
        ctx.Error(
            "E0406", effect.target.span,
            absl::StrCat(Quoted(effect.target.name),
                         " is not an effect; outcome effects need an outcome scale"),
            "declare one: `outcome Outcome = approve`, or use set, cap, raise, add or reason");
        return;
      }
      const int ordinal = ctx.policy->outcome->Find(effect.target.name);
      if (ordinal < 0) {
        ctx.Error(
            "E0406", effect.target.span,
            absl::StrCat(Quoted(effect.target.name), " is not an outcome of ",
                         Quoted(ctx.policy->outcome->name)),
            absl::StrCat("the outcomes are ", absl::StrJoin(ctx.policy->outcome->symbols, ", ")));
        return;
      }
      resolved->outcome = ordinal;
      if (ordinal > ctx.policy->outcome_initial && !rule_has_reason) {
        ctx.Error("E0404", effect.span,
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
  const int target = ResolveTarget(ctx, effect.target);
  resolved->output = target;
  OutputInfo* out = target < 0 ? nullptr : &ctx.policy->outputs[static_cast<size_t>(target)];
  if (out == nullptr) {
    CheckExpr(ctx, *effect.value, nullptr);
    return;
  }
  out->set_by_rules = true;
  if (out->type.is_error()) return;
  switch (effect.kind) {
    case ast::EffectKind::kSet: {
      CheckEffectValue(ctx, effect, *out);
      return;
    }
    case ast::EffectKind::kCap: {
      if (!out->type.is_ordered() || out->type.kind == TypeKind::kEnum) {
        ctx.Error("E0308", effect.span,
                  absl::StrCat("cannot cap ", Quoted(out->name), " of type ", T(out->type)),
                  "`cap` lowers a number to at most a value; for enums use `raise`");
        CheckExpr(ctx, *effect.value, nullptr);
        return;
      }
      CheckEffectValue(ctx, effect, *out);
      return;
    }
    case ast::EffectKind::kRaise: {
      if (out->type.kind != TypeKind::kEnum && !out->type.is_numeric()) {
        ctx.Error("E0308", effect.span,
                  absl::StrCat("cannot raise ", Quoted(out->name), " of type ", T(out->type)),
                  "`raise` lifts an enum (a level) or a number to at least a value");
        CheckExpr(ctx, *effect.value, nullptr);
        return;
      }
      CheckEffectValue(ctx, effect, *out);
      return;
    }
    case ast::EffectKind::kAdd: {
      if (out->type.kind != TypeKind::kEnumSet) {
        ctx.Error("E0308", effect.span,
                  absl::StrCat("cannot add to ", Quoted(out->name), " of type ", T(out->type)),
                  "`add` puts a symbol into a set output (`set of` an enum)");
        CheckExpr(ctx, *effect.value, nullptr);
        return;
      }
      const Type element = Type::Enum(out->type.enum_type);
      ExprInfo v = CheckExpr(ctx, *effect.value, &element);
      if (!v.type.is_error() && v.type != element) {
        ctx.Error("E0304", effect.value->span,
                  absl::StrCat(Quoted(out->name), " holds ", T(element), ", found ", T(v.type)));
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace

void CheckRules(CheckContext& ctx) {
  absl::flat_hash_map<std::string, const ast::RuleDecl*> ids;
  // Which rules set each output, for the priority check.
  absl::flat_hash_map<std::string, std::vector<const RuleInfo*>> setters;
  ctx.policy->rules.reserve(ctx.rule_decls.size());
  for (const ast::RuleDecl* decl : ctx.rule_decls) {
    RuleInfo rule;
    rule.id = decl->id.name;
    rule.decl = decl;
    if (!ids.emplace(rule.id, decl).second) {
      ctx.Error("E0202", decl->id.span,
                absl::StrCat("rule ", Quoted(rule.id), " is declared twice"),
                "rule ids are stable names that decisions refer to; give each rule its own");
    }
    if (decl->priority) {
      int64_t p = 0;
      std::string digits = *decl->priority;
      digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
      if (!absl::SimpleAtoi(digits, &p)) {
        ctx.Error("E0306", decl->priority_span, "the priority must be a whole number");
      } else {
        rule.priority = p;
      }
    }
    ExprInfo cond = CheckExpr(ctx, *decl->condition, nullptr);
    if (!cond.type.is_error() && cond.type.kind != TypeKind::kBool) {
      ctx.Error("E0303", decl->condition->span,
                absl::StrCat("the condition of rule ", Quoted(rule.id), " must be bool, found ",
                             T(cond.type)));
    }
    bool has_reason = false;
    for (const ast::Effect& effect : decl->effects) {
      if (effect.code) has_reason = true;
    }
    // The effects apply when the condition holds: they may read the
    // optional inputs it shows given.
    const size_t given = PushGiven(ctx, *decl->condition, true);
    for (const ast::Effect& effect : decl->effects) {
      EffectInfo resolved;
      CheckEffect(ctx, rule, effect, has_reason, &resolved);
      rule.effects.push_back(resolved);
    }
    PopGiven(ctx, given);
    ctx.policy->rules.push_back(std::move(rule));
    for (const ast::Effect& effect : decl->effects) {
      if (effect.kind == ast::EffectKind::kSet) {
        setters[effect.target.name].push_back(&ctx.policy->rules.back());
      }
    }
  }
  for (const OutputInfo& out : ctx.policy->outputs) {
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
          ctx.Error("E0403", b.decl->id.span,
                    absl::StrCat("rules ", Quoted(a.id), " and ", Quoted(b.id), " both set ",
                                 Quoted(out.name), " without a priority"),
                    "give each rule a priority (`rule id priority 10`: the higher wins), or the "
                    "output one (`priority lowest`: the smallest value wins)");
        } else if (*a.priority == *b.priority) {
          ctx.Error("E0407", b.decl->priority_span,
                    absl::StrCat("rules ", Quoted(a.id), " and ", Quoted(b.id), " set ",
                                 Quoted(out.name), " with the same priority ", *a.priority),
                    "give them different priorities");
        }
      }
    }
  }
}

namespace {

// Splits a message into text and `{name}` / `{name.member}` pieces;
// `{{` and `}}` are braces. False, with `problem` set, when a brace is
// unmatched or a piece is not a name.
bool SplitMessage(const std::string& message, std::vector<std::pair<std::string, bool>>* pieces,
                  std::string* problem) {
  std::string text;
  for (size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if ((c == '{' || c == '}') && i + 1 < message.size() && message[i + 1] == c) {
      text += c;
      ++i;
      continue;
    }
    if (c == '}') {
      *problem = "a `}` closes no `{`; write `}}` for a brace";
      return false;
    }
    if (c != '{') {
      text += c;
      continue;
    }
    const size_t end = message.find('}', i + 1);
    if (end == std::string::npos) {
      *problem = "a `{` is not closed; write `{{` for a brace";
      return false;
    }
    const std::string name = message.substr(i + 1, end - i - 1);
    bool ok = !name.empty();
    bool start = true;
    for (const char n : name) {
      const bool letter = absl::ascii_isalpha(static_cast<unsigned char>(n)) || n == '_';
      if (n == '.') {
        ok = ok && !start;
        start = true;
        continue;
      }
      ok = ok && (letter || (!start && absl::ascii_isdigit(static_cast<unsigned char>(n))));
      start = false;
    }
    if (!ok || start || std::count(name.begin(), name.end(), '.') > 1) {
      *problem = absl::StrCat("`{", name,
                              "}` is not a value: a message quotes a name, `{exposure}`, or a "
                              "member, `{terms.base_limit}`");
      return false;
    }
    if (!text.empty()) pieces->emplace_back(std::move(text), false);
    text.clear();
    pieces->emplace_back(name, true);
    i = end;
  }
  if (!text.empty()) pieces->emplace_back(std::move(text), false);
  return true;
}

// The expression a quoted name stands for, at `span`.
std::shared_ptr<ast::Expr> QuotedValue(const std::string& name, const dsl::SourceSpan& span) {
  auto base = std::make_shared<ast::Expr>();
  base->kind = ast::ExprKind::kName;
  const size_t dot = name.find('.');
  base->text = name.substr(0, dot);
  base->span = span;
  if (dot == std::string::npos) return base;
  auto member = std::make_shared<ast::Expr>();
  member->kind = ast::ExprKind::kMember;
  member->text = name.substr(dot + 1);
  member->span = span;
  member->args.push_back(std::make_unique<ast::Expr>(std::move(*base)));
  return member;
}

}  // namespace

void CheckMessages(CheckContext& ctx) {
  if (ctx.policy->edition < 2) return;
  for (ReasonInfo& reason : ctx.policy->reasons) {
    if (reason.message.find_first_of("{}") == std::string::npos) continue;
    std::vector<std::pair<std::string, bool>> pieces;
    std::string problem;
    if (!SplitMessage(reason.message, &pieces, &problem)) {
      ctx.Error("E0322", reason.span,
                absl::StrCat("the message of ", Quoted(reason.code), " cannot be read: ", problem));
      continue;
    }
    bool ok = true;
    std::vector<MessagePart> parts;
    for (auto& [text, is_value] : pieces) {
      MessagePart part;
      if (!is_value) {
        part.text = std::move(text);
        parts.push_back(std::move(part));
        continue;
      }
      std::shared_ptr<ast::Expr> value = QuotedValue(text, reason.span);
      const ExprInfo info = CheckExpr(ctx, *value, nullptr);
      if (info.type.is_error()) {
        ok = false;
      } else if (info.symbol.kind == Symbol::Kind::kEnumSymbol) {
        ctx.Error("E0322", reason.span,
                  absl::StrCat("the message of ", Quoted(reason.code), " quotes `{", text,
                               "}`, an enum symbol, which never changes"),
                  "write the symbol as text, or quote a value");
        ok = false;
      }
      part.value = std::move(value);
      parts.push_back(std::move(part));
    }
    if (ok) reason.parts = std::move(parts);
  }
}

void CheckOutputsAreSet(CheckContext& ctx) {
  for (const OutputInfo& out : ctx.policy->outputs) {
    if (out.decl->value != nullptr || out.type.is_error()) continue;
    // Enums start at their lowest symbol and sets empty; other outputs need
    // a value or a rule that sets them.
    if (out.type.kind == TypeKind::kEnum || out.type.kind == TypeKind::kEnumSet) continue;
    if (!out.set_by_rules) {
      ctx.Error("E0405", out.decl->name.span,
                absl::StrCat("output ", Quoted(out.name), " is never set and has no value"),
                absl::StrCat("give it one: `output ", out.name, ": ", TypeName(out.type),
                             " = ...`, or set it in a rule"));
    }
  }
}

void CheckUnused(CheckContext& ctx) {
  // Factor subjects count as uses.
  for (const ScorecardInfo& card : ctx.scorecard_infos) {
    for (const GroupInfo& group : card.groups) {
      for (const FactorInfo& factor : group.factors) {
        if (factor.subject_symbol.kind == Symbol::Kind::kInput) {
          ctx.used_inputs.insert(factor.subject_symbol.index);
        }
      }
    }
  }
  if (ctx.policy->is_library) return;
  for (size_t i = 0; i < ctx.policy->inputs.size(); ++i) {
    if (ctx.used_inputs.contains(static_cast<int>(i))) continue;
    const InputInfo& input = ctx.policy->inputs[i];
    ctx.Warning("W0501", input.decl->name.span,
                absl::StrCat("input ", Quoted(input.name), " is never used"),
                "callers must still send it; remove it if the policy does not need it");
  }
  // Not after errors: a name misspelt where it is read (E0201, E0205)
  // would be reported twice.
  if (ctx.sink.has_errors()) return;
  // Lets the policy declares itself that nothing reads: a value worked out
  // and forgotten, or left over. A factor's subject reads its let.
  for (const ScorecardInfo& card : ctx.scorecard_infos) {
    for (const GroupInfo& group : card.groups) {
      for (const FactorInfo& factor : group.factors) {
        if (factor.subject_symbol.kind == Symbol::Kind::kLet) {
          ctx.used_lets.insert(factor.subject_symbol.index);
        }
      }
    }
  }
  const int policy_file = ctx.policy->program->files.front()->file;
  for (size_t i = 0; i < ctx.let_infos.size(); ++i) {
    const LetInfo& let = ctx.let_infos[i];
    if (ctx.used_lets.contains(static_cast<int>(i)) || let.decl->name.span.file != policy_file) {
      continue;
    }
    ctx.Warning("W0510", let.decl->name.span,
                absl::StrCat("let ", Quoted(let.name), " is never used"),
                "nothing reads it; use it, or remove it");
  }
  // Reasons the policy declares itself (a library's serve many policies)
  // that no rule gives and no scorecard factor names.
  std::vector<bool> given(ctx.policy->reasons.size(), false);
  for (const RuleInfo& rule : ctx.policy->rules) {
    for (const EffectInfo& effect : rule.effects) {
      if (effect.reason >= 0) given[static_cast<size_t>(effect.reason)] = true;
    }
  }
  for (const ScorecardInfo& card : ctx.scorecard_infos) {
    for (const GroupInfo& group : card.groups) {
      for (const FactorInfo& factor : group.factors) {
        if (factor.reason >= 0) given[static_cast<size_t>(factor.reason)] = true;
      }
    }
  }
  for (size_t i = 0; i < ctx.policy->reasons.size(); ++i) {
    const ReasonInfo& reason = ctx.policy->reasons[i];
    if (given[i] || reason.span.file != policy_file) continue;
    ctx.Warning("W0508", reason.span,
                absl::StrCat("reason ", Quoted(reason.code), " is never given"),
                "no rule gives it and no scorecard factor names it; give it, or remove it");
  }
}

}  // namespace creditd::engine::check
