#include "engine/policy_diff.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "dsl/formatter.h"
#include "engine/value.h"

namespace creditd::engine {

const char* ChangeKindName(Change::Kind kind) {
  switch (kind) {
    case Change::Kind::kAdded:
      return "added";
    case Change::Kind::kRemoved:
      return "removed";
    case Change::Kind::kChanged:
      return "changed";
  }
  return "changed";
}

namespace {

namespace ast = dsl::ast;
using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;
using dsl::SourceSpan;
using Kind = Change::Kind;

// A literal as the value it writes: digit groups joined, and trailing zeros
// of a fraction dropped ("1.50" is 1.5, "12.50%" is 12.5%). A decimal keeps
// its point ("2.0"): it is a decimal, not an int.
std::string PlainLiteral(const Expr& e) {
  std::string text;
  for (char c : e.text) {
    if (c != '_') text.push_back(c);
  }
  if (e.literal != ast::LiteralKind::kDecimal && e.literal != ast::LiteralKind::kPercent) {
    return text;
  }
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) text.pop_back();
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') {
      if (percent) {
        text.pop_back();
      } else {
        text.push_back('0');
      }
    }
  }
  if (percent) text.push_back('%');
  return text;
}

ExprPtr Canonical(const Expr& e);

std::unique_ptr<ast::Interval> CanonicalInterval(const ast::Interval& i) {
  auto c = std::make_unique<ast::Interval>();
  c->low_closed = i.low_closed;
  c->high_closed = i.high_closed;
  if (i.low != nullptr) c->low = Canonical(*i.low);
  if (i.high != nullptr) c->high = Canonical(*i.high);
  c->span = i.span;
  return c;
}

// Sorts the elements of a set from `from` on by their printed form: a set
// is the same whatever the order its elements are written in.
void SortElements(std::vector<ExprPtr>& elements, size_t from) {
  if (elements.size() <= from + 1) return;
  std::vector<std::pair<std::string, ExprPtr>> keyed;
  for (size_t i = from; i < elements.size(); ++i) {
    std::string key = dsl::FormatExpr(*elements[i]);
    keyed.emplace_back(std::move(key), std::move(elements[i]));
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < keyed.size(); ++i) elements[from + i] = std::move(keyed[i].second);
}

// A copy of `e` in the form whose printing is canonical: no parentheses
// but those precedence needs, plain literals, sorted sets.
ExprPtr Canonical(const Expr& e) {
  auto c = std::make_unique<Expr>();
  c->kind = e.kind;
  c->op = e.op;
  c->literal = e.literal;
  c->text = e.kind == ExprKind::kLiteral ? PlainLiteral(e) : e.text;
  c->span = e.span;
  for (const ExprPtr& arg : e.args) c->args.push_back(Canonical(*arg));
  if (e.interval != nullptr) c->interval = CanonicalInterval(*e.interval);
  if (e.kind == ExprKind::kSet) {
    SortElements(c->args, 0);
  } else if (e.kind == ExprKind::kIn && e.interval == nullptr) {
    SortElements(c->args, 1);
  }
  return c;
}

std::string TestText(const ast::Test& t) {
  ast::Test c;
  c.kind = t.kind;
  c.op = t.op;
  if (t.value != nullptr) c.value = Canonical(*t.value);
  if (t.interval != nullptr) c.interval = CanonicalInterval(*t.interval);
  for (const ExprPtr& e : t.set) c.set.push_back(Canonical(*e));
  SortElements(c.set, 0);
  return dsl::FormatTest(c);
}

// Replaces every literal of `e` by "#", appending their texts in the order
// they print.
void TakeLiterals(Expr& e, std::vector<std::string>* literals) {
  if (e.kind == ExprKind::kLiteral) {
    literals->push_back(std::exchange(e.text, "#"));
  }
  for (ExprPtr& arg : e.args) TakeLiterals(*arg, literals);
  if (e.interval != nullptr) {
    if (e.interval->low != nullptr) TakeLiterals(*e.interval->low, literals);
    if (e.interval->high != nullptr) TakeLiterals(*e.interval->high, literals);
  }
}

// An expression's canonical text, and its shape: the text with every
// literal a "#", and the literals in order. Two expressions of one shape
// differ in constants only.
struct Canon {
  std::string text;
  std::string shape;
  std::vector<std::string> literals;
};

Canon CanonOf(const Expr& e) {
  Canon c;
  ExprPtr tree = Canonical(e);
  c.text = dsl::FormatExpr(*tree);
  TakeLiterals(*tree, &c.literals);
  c.shape = dsl::FormatExpr(*tree);
  return c;
}

// Pairs the rows of two lists by their keys (their tests): rows whose keys
// are the same, in order, as the longest common subsequence finds them;
// between two such, the rows left are paired by position (a row whose test
// changed), and what is left over of either side is a row removed or added.
// (old index, new index), -1 on the side a row is not on.
std::vector<std::pair<int, int>> PairRows(const std::vector<std::string>& a,
                                          const std::vector<std::string>& b) {
  const size_t n = a.size();
  const size_t m = b.size();
  size_t head = 0;
  while (head < n && head < m && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < n - head && tail < m - head && a[n - 1 - tail] == b[m - 1 - tail]) ++tail;
  const size_t an = n - head - tail;
  const size_t bn = m - head - tail;
  // Matched pairs in the middle, by a longest common subsequence; past a
  // size whose table would be large, by position only.
  std::vector<std::pair<size_t, size_t>> matched;
  constexpr size_t kMaxCells = size_t{1} << 22;
  if (an > 0 && bn > 0 && (an + 1) * (bn + 1) <= kMaxCells) {
    std::vector<int> length((an + 1) * (bn + 1), 0);
    auto at = [&](size_t i, size_t j) -> int& { return length[i * (bn + 1) + j]; };
    for (size_t i = an; i-- > 0;) {
      for (size_t j = bn; j-- > 0;) {
        at(i, j) = a[head + i] == b[head + j] ? at(i + 1, j + 1) + 1
                                              : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    size_t i = 0;
    size_t j = 0;
    while (i < an && j < bn) {
      if (a[head + i] == b[head + j]) {
        matched.emplace_back(head + i, head + j);
        ++i;
        ++j;
      } else if (at(i + 1, j) >= at(i, j + 1)) {
        ++i;
      } else {
        ++j;
      }
    }
  }
  std::vector<std::pair<int, int>> pairs;
  auto fill_gap = [&pairs](size_t i0, size_t i1, size_t j0, size_t j1) {
    while (i0 < i1 && j0 < j1) pairs.emplace_back(static_cast<int>(i0++), static_cast<int>(j0++));
    while (i0 < i1) pairs.emplace_back(static_cast<int>(i0++), -1);
    while (j0 < j1) pairs.emplace_back(-1, static_cast<int>(j0++));
  };
  for (size_t k = 0; k < head; ++k) pairs.emplace_back(static_cast<int>(k), static_cast<int>(k));
  size_t i = head;
  size_t j = head;
  for (const auto& [mi, mj] : matched) {
    fill_gap(i, mi, j, mj);
    pairs.emplace_back(static_cast<int>(mi), static_cast<int>(mj));
    i = mi + 1;
    j = mj + 1;
  }
  fill_gap(i, n - tail, j, m - tail);
  for (size_t k = 0; k < tail; ++k) {
    pairs.emplace_back(static_cast<int>(n - tail + k), static_cast<int>(m - tail + k));
  }
  return pairs;
}

std::string Quoted(const std::string& text) { return absl::StrCat("\"", text, "\""); }

std::string SymbolList(const std::vector<std::string>& symbols) {
  return absl::StrCat("{", absl::StrJoin(symbols, ", "), "}");
}

std::string HitText(const ast::TableDecl& d) {
  std::string hit = d.hit ? d.hit->name : "first";
  if (d.aggregate) absl::StrAppend(&hit, " ", d.aggregate->name);
  return hit;
}

std::string OptionalExprText(const ExprPtr& e) { return e != nullptr ? CanonicalExpr(*e) : ""; }

// Each effect as the formatter prints it, with canonical expressions.
std::string EffectText(const ast::Effect& e) {
  switch (e.kind) {
    case ast::EffectKind::kOutcome:
      return absl::StrCat(e.target.name, e.code ? " " + e.code->name : "");
    case ast::EffectKind::kReason:
      return absl::StrCat("reason ", e.code ? e.code->name : "");
    case ast::EffectKind::kSet:
      return absl::StrCat("set ", e.target.name, " = ", OptionalExprText(e.value));
    case ast::EffectKind::kCap:
      return absl::StrCat("cap ", e.target.name, " at ", OptionalExprText(e.value));
    case ast::EffectKind::kRaise:
      return absl::StrCat("raise ", e.target.name, " to ", OptionalExprText(e.value));
    case ast::EffectKind::kAdd:
      return absl::StrCat("add ", OptionalExprText(e.value), " to ", e.target.name);
  }
  return "";
}

// What an effect does to what, whatever the value: effects with one key
// that differ are one effect changed. Every outcome effect shares a key, as
// does every reason.
std::string EffectKey(const ast::Effect& e) {
  switch (e.kind) {
    case ast::EffectKind::kOutcome:
      return "outcome";
    case ast::EffectKind::kReason:
      return "reason";
    case ast::EffectKind::kSet:
      return "set " + e.target.name;
    case ast::EffectKind::kCap:
      return "cap " + e.target.name;
    case ast::EffectKind::kRaise:
      return "raise " + e.target.name;
    case ast::EffectKind::kAdd:
      return "add to " + e.target.name;
  }
  return "";
}

std::string RuleText(const ast::RuleDecl& d) {
  std::vector<std::string> effects;
  for (const ast::Effect& e : d.effects) effects.push_back(EffectText(e));
  return absl::StrCat("when ", OptionalExprText(d.condition), " then ",
                      absl::StrJoin(effects, "; "));
}

std::string RowText(const ast::Row& row) {
  return absl::StrCat("| ", TestText(row.test), " => ", OptionalExprText(row.value));
}

std::string TableRowText(const ast::TableRow& row) {
  std::vector<std::string> tests;
  for (const ast::Test& t : row.tests) tests.push_back(TestText(t));
  std::vector<std::string> values;
  for (const ExprPtr& v : row.values) values.push_back(OptionalExprText(v));
  return absl::StrCat("| ", absl::StrJoin(tests, " | "), " => ", absl::StrJoin(values, ", "));
}

std::string TableConditions(const ast::TableRow& row) {
  std::vector<std::string> tests;
  for (const ast::Test& t : row.tests) tests.push_back(TestText(t));
  return absl::StrJoin(tests, " | ");
}

std::string FactorReason(const ast::Factor& f) {
  if (!f.reason) return "none";
  std::string text = f.reason->name;
  if (f.reason_threshold != nullptr) {
    absl::StrAppend(&text, " when ", ast::OpText(f.reason_op), " ",
                    CanonicalExpr(*f.reason_threshold));
  }
  return text;
}

// A reason's message with each quoted value in canonical form.
std::string MessageKey(const ReasonInfo& r) {
  if (r.parts.empty()) return r.message;
  std::string key;
  for (const MessagePart& p : r.parts) {
    if (p.value != nullptr) {
      absl::StrAppend(&key, "{", CanonicalExpr(*p.value), "}");
    } else {
      absl::StrAppend(&key, absl::StrReplaceAll(p.text, {{"{", "{{"}, {"}", "}}"}}));
    }
  }
  return key;
}

// The symbols of an enum input's type its range lets in.
std::vector<std::string> AcceptedSymbols(const InputInfo& input) {
  std::vector<std::string> accepted;
  if (input.type.enum_type == nullptr) return accepted;
  const std::vector<std::string>& symbols = input.type.enum_type->symbols;
  for (size_t k = 0; k < symbols.size(); ++k) {
    if (input.range.ContainsValue(Decimal::FromInt(static_cast<int64_t>(k)))) {
      accepted.push_back(symbols[k]);
    }
  }
  return accepted;
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string InputTypeText(const InputInfo& i) {
  return i.decl != nullptr ? dsl::FormatType(i.decl->type) : TypeName(i.type);
}

std::string RangeText(const InputInfo& i) {
  if (i.decl == nullptr || !i.decl->constraint) return "any";
  const ast::Test& t = *i.decl->constraint;
  return absl::StrCat(t.kind == ast::TestKind::kInterval ? "in " : "", TestText(t));
}

std::string InputText(const InputInfo& i) {
  std::string text = InputTypeText(i);
  if (i.decl != nullptr && i.decl->constraint) absl::StrAppend(&text, " ", RangeText(i));
  if (i.decl != nullptr && i.decl->default_value != nullptr) {
    absl::StrAppend(&text, " = ", CanonicalExpr(*i.decl->default_value), " (a default)");
  }
  if (i.optional) absl::StrAppend(&text, " (optional)");
  return text;
}

std::string OutputTypeText(const OutputInfo& o) {
  std::string text = o.decl != nullptr ? dsl::FormatType(o.decl->type) : TypeName(o.type);
  // From edition 2 a money output holds its places whether written or not.
  if (o.places >= 0 && o.decl != nullptr && o.decl->type.places.empty()) {
    absl::StrAppend(&text, "(", o.places, ")");
  }
  return text;
}

const char* ResolutionText(SetResolution r) {
  switch (r) {
    case SetResolution::kRulePriority:
      return "by rule priority";
    case SetResolution::kLowest:
      return "lowest";
    case SetResolution::kHighest:
      return "highest";
  }
  return "";
}

// Calls `visit(old, new)` for each item of `news` (with its namesake in
// `olds`, or null), then `visit(old, null)` for each item of `olds` with no
// namesake.
template <typename List, typename NameOf, typename Visit>
void MatchByName(const List& olds, const List& news, NameOf name_of, Visit visit) {
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < olds.size(); ++i) index.emplace(name_of(olds[i]), i);
  std::vector<bool> seen(olds.size(), false);
  for (const auto& item : news) {
    auto it = index.find(name_of(item));
    if (it != index.end() && !seen[it->second]) {
      seen[it->second] = true;
      visit(&olds[it->second], &item);
    } else {
      visit(nullptr, &item);
    }
  }
  for (size_t i = 0; i < olds.size(); ++i) {
    if (!seen[i]) visit(&olds[i], nullptr);
  }
}

class Differ {
 public:
  Differ(const CheckedPolicy& old_policy, const CheckedPolicy& new_policy)
      : old_(old_policy), new_(new_policy) {}

  std::vector<Change> Run() {
    Header();
    Enums();
    Reasons();
    Inputs();
    Outcome();
    Outputs();
    Lets();
    Bands();
    Tables();
    Scorecards();
    Rules();
    return std::move(changes_);
  }

 private:
  static std::string FileOf(const CheckedPolicy& p, const SourceSpan* span) {
    if (span == nullptr || !span->known() || p.program == nullptr ||
        span->file >= p.program->sources.size()) {
      return "";
    }
    return p.program->sources.file(span->file).path();
  }

  // Appends a change; the reference holds until the next one is added.
  Change& Add(Kind kind, std::string what, std::string path, std::string before, std::string after,
              const SourceSpan* old_span, const SourceSpan* new_span) {
    Change c;
    c.kind = kind;
    c.what = std::move(what);
    c.path = std::move(path);
    c.before = std::move(before);
    c.after = std::move(after);
    c.file_before = FileOf(old_, old_span);
    c.line_before = c.file_before.empty() ? 0 : old_span->line;
    c.file_after = FileOf(new_, new_span);
    c.line_after = c.file_after.empty() ? 0 : new_span->line;
    changes_.push_back(std::move(c));
    return changes_.back();
  }

  // When one of `o` and `n` (declarations, with their spans) is missing,
  // reports the other added or removed, shown as `summary` shows it, and
  // returns true.
  template <typename Decl, typename Summary>
  bool AddedOrRemoved(const char* what, const std::string& path, const Decl* o, const Decl* n,
                      Summary summary) {
    if (o != nullptr && n != nullptr) return false;
    if (n != nullptr) Add(Kind::kAdded, what, path, "", summary(*n), nullptr, &n->span);
    if (o != nullptr) Add(Kind::kRemoved, what, path, summary(*o), "", &o->span, nullptr);
    return true;
  }

  void CompareText(const std::string& what, const std::string& path, const std::string& before,
                   const std::string& after, const SourceSpan* old_span,
                   const SourceSpan* new_span) {
    if (before != after) Add(Kind::kChanged, what, path, before, after, old_span, new_span);
  }

  // Compares two expressions (either may be missing); the change, or null
  // when they mean the same. Only constants moved: the constants that did.
  Change* CompareExpr(const std::string& what, const std::string& path, const Expr* a,
                      const Expr* b) {
    if (a == nullptr && b == nullptr) return nullptr;
    if (a == nullptr)
      return &Add(Kind::kAdded, what, path, "", CanonicalExpr(*b), nullptr, &b->span);
    if (b == nullptr) {
      return &Add(Kind::kRemoved, what, path, CanonicalExpr(*a), "", &a->span, nullptr);
    }
    Canon ca = CanonOf(*a);
    Canon cb = CanonOf(*b);
    if (ca.text == cb.text) return nullptr;
    Change& c = Add(Kind::kChanged, what, path, ca.text, cb.text, &a->span, &b->span);
    if (ca.shape == cb.shape && ca.literals.size() == cb.literals.size()) {
      std::vector<std::string> from;
      std::vector<std::string> to;
      for (size_t i = 0; i < ca.literals.size(); ++i) {
        if (ca.literals[i] != cb.literals[i]) {
          from.push_back(ca.literals[i]);
          to.push_back(cb.literals[i]);
        }
      }
      c.constant = true;
      c.before = absl::StrJoin(from, ", ");
      c.after = absl::StrJoin(to, ", ");
      if (ca.shape != "#") {
        c.expression_before = std::move(ca.text);
        c.expression_after = std::move(cb.text);
      }
    }
    return &c;
  }

  Change* CompareExpr(const std::string& what, const std::string& path, const ExprPtr& a,
                      const ExprPtr& b) {
    return CompareExpr(what, path, a.get(), b.get());
  }

  static const SourceSpan* HeaderSpan(const CheckedPolicy& p, const char* key) {
    if (p.program == nullptr || p.program->files.empty()) return nullptr;
    const ast::Header& h = p.program->files[0]->header;
    if (std::string(key) == "name") return &h.name.span;
    for (const ast::HeaderField& f : h.fields) {
      if (f.key.name == key) return &f.span;
    }
    return &h.span;
  }

  void Header() {
    auto field = [this](const char* key, const std::string& before, const std::string& after) {
      CompareText("header", absl::StrCat("header ", key), before, after, HeaderSpan(old_, key),
                  HeaderSpan(new_, key));
    };
    field("name", old_.name, new_.name);
    field("version", old_.version, new_.version);
    field("effective", old_.effective, new_.effective);
    field("edition", absl::StrCat(old_.edition), absl::StrCat(new_.edition));
    field("owner", Quoted(old_.owner), Quoted(new_.owner));
    field("description", Quoted(old_.description), Quoted(new_.description));
  }

  // The inputs of either version whose type is enum `name` (or a set of it).
  std::vector<std::string> InputsOfEnum(const std::string& name) const {
    std::vector<std::string> inputs;
    for (const CheckedPolicy* p : {&old_, &new_}) {
      for (const InputInfo& i : p->inputs) {
        if (i.type.enum_type != nullptr && i.type.enum_type->name == name &&
            !Contains(inputs, i.name)) {
          inputs.push_back(i.name);
        }
      }
    }
    return inputs;
  }

  void Enums() {
    MatchByName(
        old_.enums, new_.enums, [](const EnumType& e) { return e.name; },
        [this](const EnumType* o, const EnumType* n) {
          const std::string path = absl::StrCat("enum ", (n != nullptr ? n : o)->name);
          if (AddedOrRemoved("enum", path, o, n,
                             [](const EnumType& e) { return SymbolList(e.symbols); })) {
            return;
          }
          const std::vector<std::string> inputs = InputsOfEnum(n->name);
          for (const std::string& s : o->symbols) {
            if (Contains(n->symbols, s)) continue;
            Change& c = Add(Kind::kRemoved, "enum symbol", absl::StrCat(path, " symbol ", s), s, "",
                            &o->span, &n->span);
            if (!inputs.empty()) {
              c.breaks_callers = true;
              c.impact = absl::StrCat("input ", absl::StrJoin(inputs, ", input "),
                                      " no longer accepts `", s, "`");
            }
          }
          for (const std::string& s : n->symbols) {
            if (Contains(o->symbols, s)) continue;
            Add(Kind::kAdded, "enum symbol", absl::StrCat(path, " symbol ", s), "", s, &o->span,
                &n->span);
          }
          // The order is the scale: raise, <, min and max follow it.
          std::vector<std::string> old_common;
          std::vector<std::string> new_common;
          for (const std::string& s : o->symbols) {
            if (Contains(n->symbols, s)) old_common.push_back(s);
          }
          for (const std::string& s : n->symbols) {
            if (Contains(o->symbols, s)) new_common.push_back(s);
          }
          if (old_common != new_common) {
            Add(Kind::kChanged, "enum", path + " order", SymbolList(o->symbols),
                SymbolList(n->symbols), &o->span, &n->span);
          }
        });
  }

  void Reasons() {
    MatchByName(
        old_.reasons, new_.reasons, [](const ReasonInfo& r) { return r.code; },
        [this](const ReasonInfo* o, const ReasonInfo* n) {
          const std::string path = absl::StrCat("reason ", (n != nullptr ? n : o)->code);
          auto message = [](const ReasonInfo& r) { return Quoted(r.message); };
          if (AddedOrRemoved("reason", path, o, n, message) || MessageKey(*o) == MessageKey(*n)) {
            return;
          }
          Add(Kind::kChanged, "reason", path, message(*o), message(*n), &o->span, &n->span);
        });
  }

  void Inputs() {
    MatchByName(
        old_.inputs, new_.inputs, [](const InputInfo& i) { return i.name; },
        [this](const InputInfo* o, const InputInfo* n) { Input(o, n); });
  }

  void Input(const InputInfo* o, const InputInfo* n) {
    const SourceSpan* old_span = o != nullptr && o->decl != nullptr ? &o->decl->span : nullptr;
    const SourceSpan* new_span = n != nullptr && n->decl != nullptr ? &n->decl->span : nullptr;
    const std::string path = absl::StrCat("input ", (n != nullptr ? n : o)->name);
    if (o == nullptr) {
      Change& c = Add(Kind::kAdded, "input", path, "", InputText(*n), nullptr, new_span);
      if (!n->optional && (n->decl == nullptr || n->decl->default_value == nullptr)) {
        c.breaks_callers = true;
        c.impact = "a new required input: requests without it are refused";
      }
      return;
    }
    if (n == nullptr) {
      Change& c = Add(Kind::kRemoved, "input", path, InputText(*o), "", old_span, nullptr);
      c.breaks_callers = true;
      c.impact = "requests that send it are refused: it is not an input";
      return;
    }
    const bool same_type = TypeName(o->type) == TypeName(n->type);
    if (!same_type || o->places != n->places || o->optional != n->optional) {
      Change& c = Add(Kind::kChanged, "input", path + " type", InputTypeText(*o), InputTypeText(*n),
                      old_span, new_span);
      std::vector<std::string> impacts;
      if (!same_type) {
        impacts.push_back(absl::StrCat("requests that send a ", TypeName(o->type), " are refused"));
      } else if (n->places >= 0 && o->places > n->places) {
        impacts.push_back(absl::StrCat("facts with more than ", n->places,
                                       " decimal places are refused (", o->places,
                                       " were accepted)"));
      }
      if (o->optional && !n->optional) {
        impacts.push_back("no longer optional: requests without it are refused");
      }
      c.breaks_callers = !impacts.empty();
      c.impact = absl::StrJoin(impacts, "; ");
    }
    if (same_type) InputRange(*o, *n, old_span, new_span);
    Change* c = CompareExpr("input", path + " default",
                            o->decl != nullptr ? o->decl->default_value.get() : nullptr,
                            n->decl != nullptr ? n->decl->default_value.get() : nullptr);
    if (c != nullptr && c->kind == Kind::kRemoved && !n->optional) {
      c->breaks_callers = true;
      c->impact = "requests that leave it out are refused: the default stood in for it";
    }
  }

  void InputRange(const InputInfo& o, const InputInfo& n, const SourceSpan* old_span,
                  const SourceSpan* new_span) {
    const std::string path = absl::StrCat("input ", n.name, " range");
    if (n.type.kind == TypeKind::kEnum) {
      // By symbol: a symbol the enum no longer has is the enum's change.
      const std::vector<std::string> before = AcceptedSymbols(o);
      const std::vector<std::string> after = AcceptedSymbols(n);
      std::vector<std::string> refused;
      for (const std::string& s : before) {
        if (!Contains(after, s) && Contains(n.type.enum_type->symbols, s)) refused.push_back(s);
      }
      std::vector<std::string> let_in;
      for (const std::string& s : after) {
        if (!Contains(before, s) && Contains(o.type.enum_type->symbols, s)) let_in.push_back(s);
      }
      if (refused.empty() && let_in.empty()) return;
      Change& c =
          Add(Kind::kChanged, "input", path, RangeText(o), RangeText(n), old_span, new_span);
      if (!refused.empty()) {
        c.breaks_callers = true;
        c.impact = absl::StrCat("requests with ", absl::StrJoin(refused, " or "),
                                " were accepted and are refused now");
      }
      return;
    }
    const Domain narrowed = o.range.Minus(n.range);
    const Domain widened = n.range.Minus(o.range);
    if (narrowed.empty() && widened.empty()) return;
    Change& c = Add(Kind::kChanged, "input", path, RangeText(o), RangeText(n), old_span, new_span);
    if (!narrowed.empty()) {
      c.breaks_callers = true;
      std::optional<Value> example = narrowed.Example();
      c.impact = absl::StrCat("values accepted before are refused now",
                              example ? ": " + FormatValue(*example, n.type) : "",
                              example ? " for one" : "");
    }
  }

  void Outcome() {
    auto text = [](const CheckedPolicy& p) -> std::optional<std::string> {
      if (p.outcome == nullptr) return std::nullopt;
      const size_t initial = static_cast<size_t>(p.outcome_initial);
      return absl::StrCat(p.outcome->name, " = ",
                          initial < p.outcome->symbols.size() ? p.outcome->symbols[initial] : "");
    };
    const std::optional<std::string> before = text(old_);
    const std::optional<std::string> after = text(new_);
    if (before && after) {
      CompareText("outcome", "outcome", *before, *after, &old_.outcome_span, &new_.outcome_span);
    } else if (after) {
      Add(Kind::kAdded, "outcome", "outcome", "", *after, nullptr, &new_.outcome_span);
    } else if (before) {
      Add(Kind::kRemoved, "outcome", "outcome", *before, "", &old_.outcome_span, nullptr);
    }
  }

  void Outputs() {
    MatchByName(
        old_.outputs, new_.outputs, [](const OutputInfo& o) { return o.name; },
        [this](const OutputInfo* o, const OutputInfo* n) { Output(o, n); });
  }

  void Output(const OutputInfo* o, const OutputInfo* n) {
    const SourceSpan* old_span = o != nullptr && o->decl != nullptr ? &o->decl->span : nullptr;
    const SourceSpan* new_span = n != nullptr && n->decl != nullptr ? &n->decl->span : nullptr;
    const std::string path = absl::StrCat("output ", (n != nullptr ? n : o)->name);
    auto summary = [](const OutputInfo& out) {
      std::string text = OutputTypeText(out);
      if (out.decl != nullptr && out.decl->value != nullptr) {
        absl::StrAppend(&text, " = ", CanonicalExpr(*out.decl->value));
      }
      return text;
    };
    if (o == nullptr) {
      Add(Kind::kAdded, "output", path, "", summary(*n), nullptr, new_span);
      return;
    }
    if (n == nullptr) {
      Change& c = Add(Kind::kRemoved, "output", path, summary(*o), "", old_span, nullptr);
      c.breaks_callers = true;
      c.impact = "callers that read it no longer get it";
      return;
    }
    if (TypeName(o->type) != TypeName(n->type) || o->places != n->places) {
      Change& c = Add(Kind::kChanged, "output", path + " type", OutputTypeText(*o),
                      OutputTypeText(*n), old_span, new_span);
      if (TypeName(o->type) != TypeName(n->type)) {
        c.breaks_callers = true;
        c.impact = absl::StrCat("callers that read it get a ", TypeName(n->type), ", not a ",
                                TypeName(o->type));
      }
    }
    CompareExpr("output", path + " value", o->decl != nullptr ? o->decl->value.get() : nullptr,
                n->decl != nullptr ? n->decl->value.get() : nullptr);
    CompareText("output", path + " priority", ResolutionText(o->resolution),
                ResolutionText(n->resolution), old_span, new_span);
  }

  void Lets() {
    MatchByName(
        old_.lets, new_.lets, [](const LetInfo& l) { return l.name; },
        [this](const LetInfo* o, const LetInfo* n) {
          const std::string path = absl::StrCat("let ", (n != nullptr ? n : o)->name);
          const ast::LetDecl* od = o != nullptr ? o->decl : nullptr;
          const ast::LetDecl* nd = n != nullptr ? n->decl : nullptr;
          if (AddedOrRemoved("let", path, od, nd,
                             [](const ast::LetDecl& d) { return OptionalExprText(d.value); })) {
            return;
          }
          CompareText("let", path + " type", TypeName(o->type), TypeName(n->type), &od->span,
                      &nd->span);
          CompareExpr("let", path, od->value, nd->value);
        });
  }

  // Compares `| test => value` rows (of a band, or a scorecard factor's
  // bins): rows paired by their tests, then test and value of each pair.
  void CompareRows(const std::string& what, const std::string& path, const char* row_name,
                   const char* value_name, const std::vector<ast::Row>& olds,
                   const std::vector<ast::Row>& news) {
    std::vector<std::string> old_keys;
    for (const ast::Row& r : olds) old_keys.push_back(TestText(r.test));
    std::vector<std::string> new_keys;
    for (const ast::Row& r : news) new_keys.push_back(TestText(r.test));
    for (const auto& [i, j] : PairRows(old_keys, new_keys)) {
      if (j < 0) {
        const ast::Row& r = olds[static_cast<size_t>(i)];
        Add(Kind::kRemoved, what, absl::StrCat(path, " ", row_name, " ", i + 1), RowText(r), "",
            &r.span, nullptr);
        continue;
      }
      const ast::Row& n = news[static_cast<size_t>(j)];
      const std::string row = absl::StrCat(path, " ", row_name, " ", j + 1);
      if (i < 0) {
        Add(Kind::kAdded, what, row, "", RowText(n), nullptr, &n.span);
        continue;
      }
      const ast::Row& o = olds[static_cast<size_t>(i)];
      const std::string& new_test = new_keys[static_cast<size_t>(j)];
      CompareText(what, row + " test", old_keys[static_cast<size_t>(i)], new_test, &o.span,
                  &n.span);
      CompareExpr(what, absl::StrCat(row, " (", new_test, ") ", value_name), o.value, n.value);
    }
  }

  void Bands() {
    MatchByName(
        old_.bands, new_.bands, [](const BandInfo& b) { return b.name; },
        [this](const BandInfo* o, const BandInfo* n) {
          const ast::BandDecl* od = o != nullptr ? o->decl : nullptr;
          const ast::BandDecl* nd = n != nullptr ? n->decl : nullptr;
          const std::string path = absl::StrCat("band ", (n != nullptr ? n : o)->name);
          auto summary = [](const ast::BandDecl& d) {
            return absl::StrCat(d.type ? dsl::FormatType(*d.type) + " " : "", "on ",
                                OptionalExprText(d.subject), ", ", d.rows.size(), " rows");
          };
          if (AddedOrRemoved("band", path, od, nd, summary)) return;
          CompareText("band", path + " type", TypeName(o->type), TypeName(n->type), &od->span,
                      &nd->span);
          CompareExpr("band", path + " subject", od->subject, nd->subject);
          CompareRows("band row", path, "row", "value", od->rows, nd->rows);
        });
  }

  void Tables() {
    MatchByName(
        old_.tables, new_.tables, [](const TableInfo& t) { return t.name; },
        [this](const TableInfo* o, const TableInfo* n) {
          const ast::TableDecl* od = o != nullptr ? o->decl : nullptr;
          const ast::TableDecl* nd = n != nullptr ? n->decl : nullptr;
          const std::string path = absl::StrCat("table ", (n != nullptr ? n : o)->name);
          auto summary = [](const ast::TableDecl& d) {
            return absl::StrCat("hit ", HitText(d), ", ", d.rows.size(), " rows");
          };
          if (!AddedOrRemoved("table", path, od, nd, summary)) Table(path, *od, *nd);
        });
  }

  static std::vector<std::string> ConditionColumns(const ast::TableDecl& d) {
    std::vector<std::string> columns;
    for (const ExprPtr& e : d.inputs) columns.push_back(OptionalExprText(e));
    return columns;
  }

  void Table(const std::string& path, const ast::TableDecl& od, const ast::TableDecl& nd) {
    CompareText("table", path + " hit", HitText(od), HitText(nd), &od.span, &nd.span);
    const std::vector<std::string> old_conditions = ConditionColumns(od);
    const std::vector<std::string> conditions = ConditionColumns(nd);
    CompareText("table", path + " condition columns", absl::StrJoin(old_conditions, " | "),
                absl::StrJoin(conditions, " | "), &od.span, &nd.span);
    // Result columns by name: where each new one was.
    std::vector<int> old_column(nd.outputs.size(), -1);
    MatchByName(
        od.outputs, nd.outputs, [](const ast::TableColumn& c) { return c.name.name; },
        [&](const ast::TableColumn* o, const ast::TableColumn* n) {
          const std::string column =
              absl::StrCat(path, " column ", (n != nullptr ? n : o)->name.name);
          if (o != nullptr && n != nullptr) {
            old_column[static_cast<size_t>(n - nd.outputs.data())] =
                static_cast<int>(o - od.outputs.data());
          }
          auto type = [](const ast::TableColumn& c) { return dsl::FormatType(c.type); };
          if (!AddedOrRemoved("table column", column, o, n, type)) {
            CompareText("table column", column, type(*o), type(*n), &o->span, &n->span);
          }
        });
    // Rows paired by their condition cells; when the condition columns
    // changed, rows are compared whole.
    const bool cell_by_cell = old_conditions.size() == conditions.size();
    std::vector<std::string> old_keys;
    for (const ast::TableRow& r : od.rows) {
      old_keys.push_back(cell_by_cell ? TableConditions(r) : TableRowText(r));
    }
    std::vector<std::string> new_keys;
    for (const ast::TableRow& r : nd.rows) {
      new_keys.push_back(cell_by_cell ? TableConditions(r) : TableRowText(r));
    }
    for (const auto& [i, j] : PairRows(old_keys, new_keys)) {
      if (j < 0) {
        const ast::TableRow& r = od.rows[static_cast<size_t>(i)];
        Add(Kind::kRemoved, "table row", absl::StrCat(path, " row ", i + 1), TableRowText(r), "",
            &r.span, nullptr);
        continue;
      }
      const ast::TableRow& n = nd.rows[static_cast<size_t>(j)];
      const std::string row = absl::StrCat(path, " row ", j + 1);
      if (i < 0) {
        Add(Kind::kAdded, "table row", row, "", TableRowText(n), nullptr, &n.span);
        continue;
      }
      const ast::TableRow& o = od.rows[static_cast<size_t>(i)];
      if (!cell_by_cell) {
        CompareText("table row", row, TableRowText(o), TableRowText(n), &o.span, &n.span);
        continue;
      }
      for (size_t k = 0; k < n.tests.size() && k < o.tests.size(); ++k) {
        CompareText("table cell", absl::StrCat(row, " ", conditions[k]), TestText(o.tests[k]),
                    TestText(n.tests[k]), &o.tests[k].span, &n.tests[k].span);
      }
      const std::string label = absl::StrCat(row, " (", new_keys[static_cast<size_t>(j)], ") ");
      for (size_t k = 0; k < nd.outputs.size() && k < n.values.size(); ++k) {
        const int before = old_column[k];
        if (before < 0 || static_cast<size_t>(before) >= o.values.size()) continue;
        CompareExpr("table cell", label + nd.outputs[k].name.name,
                    o.values[static_cast<size_t>(before)], n.values[k]);
      }
    }
  }

  void Scorecards() {
    MatchByName(
        old_.scorecards, new_.scorecards, [](const ScorecardInfo& s) { return s.name; },
        [this](const ScorecardInfo* o, const ScorecardInfo* n) {
          const std::string path = absl::StrCat("scorecard ", (n != nullptr ? n : o)->name);
          auto summary = [](const ast::ScorecardDecl& d) {
            std::vector<std::string> groups;
            for (const ast::ScoreGroup& g : d.groups) groups.push_back(g.name.name);
            return absl::StrCat("groups ", absl::StrJoin(groups, ", "));
          };
          if (AddedOrRemoved("scorecard", path, o != nullptr ? o->decl : nullptr,
                             n != nullptr ? n->decl : nullptr, summary)) {
            return;
          }
          MatchByName(
              o->groups, n->groups, [](const GroupInfo& g) { return g.name; },
              [&](const GroupInfo* og, const GroupInfo* ng) { Group(path, og, ng); });
        });
  }

  void Group(const std::string& scorecard, const GroupInfo* o, const GroupInfo* n) {
    const std::string path = absl::StrCat(scorecard, " group ", (n != nullptr ? n : o)->name);
    const ast::ScoreGroup* od = o != nullptr ? o->decl : nullptr;
    const ast::ScoreGroup* nd = n != nullptr ? n->decl : nullptr;
    auto summary = [](const ast::ScoreGroup& g) {
      std::vector<std::string> factors;
      for (const ast::Factor& f : g.factors) factors.push_back(f.subject.name);
      return absl::StrCat("weight ", OptionalExprText(g.weight), ", factors ",
                          absl::StrJoin(factors, ", "));
    };
    if (AddedOrRemoved("scorecard group", path, od, nd, summary)) return;
    CompareExpr("weight", path + " weight", od->weight, nd->weight);
    MatchByName(
        od->factors, nd->factors, [](const ast::Factor& f) { return f.subject.name; },
        [&](const ast::Factor* of, const ast::Factor* nf) {
          const std::string factor =
              absl::StrCat(path, " factor ", (nf != nullptr ? nf : of)->subject.name);
          auto factor_summary = [](const ast::Factor& f) {
            return absl::StrCat("reason ", FactorReason(f), ", ", f.rows.size(), " bins");
          };
          if (AddedOrRemoved("scorecard factor", factor, of, nf, factor_summary)) return;
          CompareText("scorecard factor", factor + " reason", FactorReason(*of), FactorReason(*nf),
                      &of->span, &nf->span);
          CompareRows("scorecard bin", factor, "bin", "points", of->rows, nf->rows);
        });
  }

  void Rules() {
    MatchByName(
        old_.rules, new_.rules, [](const RuleInfo& r) { return r.id; },
        [this](const RuleInfo* o, const RuleInfo* n) {
          const ast::RuleDecl* od = o != nullptr ? o->decl : nullptr;
          const ast::RuleDecl* nd = n != nullptr ? n->decl : nullptr;
          const std::string path = absl::StrCat("rule ", (n != nullptr ? n : o)->id);
          if (AddedOrRemoved("rule", path, od, nd, RuleText)) return;
          auto priority = [](const RuleInfo& r) {
            return r.priority ? absl::StrCat(*r.priority) : std::string("none");
          };
          CompareText("rule", path + " priority", priority(*o), priority(*n), &od->span, &nd->span);
          CompareExpr("rule", path + " condition", od->condition, nd->condition);
          Effects(path, *od, *nd);
        });
  }

  // Effects: the same effect in both is no change, whatever the order; of
  // the rest, two with one key (`cap credit_limit`, the outcome) are one
  // effect changed; what is left was added or removed.
  void Effects(const std::string& rule, const ast::RuleDecl& od, const ast::RuleDecl& nd) {
    std::vector<std::string> old_texts;
    for (const ast::Effect& e : od.effects) old_texts.push_back(EffectText(e));
    std::vector<bool> used(od.effects.size(), false);
    std::vector<const ast::Effect*> unmatched;
    for (const ast::Effect& e : nd.effects) {
      const std::string text = EffectText(e);
      bool found = false;
      for (size_t i = 0; i < od.effects.size() && !found; ++i) {
        if (!used[i] && old_texts[i] == text) used[i] = found = true;
      }
      if (!found) unmatched.push_back(&e);
    }
    for (const ast::Effect* e : unmatched) {
      const std::string key = EffectKey(*e);
      size_t i = 0;
      while (i < od.effects.size() && (used[i] || EffectKey(od.effects[i]) != key)) ++i;
      if (i == od.effects.size()) {
        Add(Kind::kAdded, "rule effect", rule + " effect", "", EffectText(*e), nullptr, &e->span);
        continue;
      }
      used[i] = true;
      const ast::Effect& o = od.effects[i];
      if (o.value != nullptr && e->value != nullptr) {
        CompareExpr("rule effect", absl::StrCat(rule, " ", key), o.value, e->value);
      } else {
        Add(Kind::kChanged, "rule effect", absl::StrCat(rule, " ", key), old_texts[i],
            EffectText(*e), &o.span, &e->span);
      }
    }
    for (size_t i = 0; i < od.effects.size(); ++i) {
      if (!used[i]) {
        Add(Kind::kRemoved, "rule effect", rule + " effect", old_texts[i], "", &od.effects[i].span,
            nullptr);
      }
    }
  }

  const CheckedPolicy& old_;
  const CheckedPolicy& new_;
  std::vector<Change> changes_;
};

}  // namespace

std::string CanonicalExpr(const dsl::ast::Expr& expr) { return dsl::FormatExpr(*Canonical(expr)); }

std::vector<Change> DiffPolicies(const CheckedPolicy& old_policy, const CheckedPolicy& new_policy) {
  return Differ(old_policy, new_policy).Run();
}

}  // namespace creditd::engine
