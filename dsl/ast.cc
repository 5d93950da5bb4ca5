#include "dsl/ast.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace creditd::dsl::ast {

const char* OpText(Op op) {
  switch (op) {
    case Op::kNone:
      return "";
    case Op::kAdd:
      return "+";
    case Op::kSub:
    case Op::kNeg:
      return "-";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kAnd:
      return "and";
    case Op::kOr:
      return "or";
    case Op::kNot:
      return "not";
    case Op::kIn:
      return "in";
    case Op::kNotIn:
      return "not in";
  }
  return "";
}

const SourceSpan& SpanOf(const Declaration& declaration) {
  return std::visit([](const auto& d) -> const SourceSpan& { return d.span; }, declaration);
}

namespace {

// Writes an indented s-expression-like listing of the tree, without spans.
class Dumper {
 public:
  std::string Take() { return std::move(out_); }

  void Line(int depth, const std::string& text) {
    out_.append(static_cast<size_t>(depth) * 2, ' ');
    out_ += text;
    out_ += '\n';
  }

  static std::string Type(const TypeRef& t) {
    const char* optional = t.optional ? "?" : "";
    if (t.is_set) return absl::StrCat("set of ", t.name, optional);
    return t.places.empty() ? absl::StrCat(t.name, optional)
                            : absl::StrCat(t.name, "(", t.places, ")", optional);
  }

  void Expr(int depth, const ast::Expr* e) {
    if (e == nullptr) {
      Line(depth, "<none>");
      return;
    }
    Node(depth, *e);
    for (const ExprPtr& arg : e->args) Expr(depth + 1, arg.get());
    if (e->interval != nullptr) Interval(depth + 1, *e->interval);
  }

  // The line of one expression node (apart from the recursion, so that its
  // temporaries are not on the stack once per level).
  void Node(int depth, const ast::Expr& e) {
    const char* paren = e.parenthesized ? " (paren)" : "";
    switch (e.kind) {
      case ExprKind::kLiteral:
        Line(depth, absl::StrCat("literal ", e.text, paren));
        break;
      case ExprKind::kName:
        Line(depth, absl::StrCat("name ", e.text, paren));
        break;
      case ExprKind::kMember:
        Line(depth, absl::StrCat("member ", e.text, paren));
        break;
      case ExprKind::kCall:
        Line(depth, absl::StrCat("call ", e.text, paren));
        break;
      case ExprKind::kUnary:
      case ExprKind::kBinary:
      case ExprKind::kIn:
        Line(depth, absl::StrCat("op ", OpText(e.op), paren));
        break;
      case ExprKind::kIf:
        Line(depth, absl::StrCat("if", paren));
        break;
      case ExprKind::kSet:
        Line(depth, absl::StrCat("set", paren));
        break;
    }
  }

  void Interval(int depth, const ast::Interval& i) {
    Line(depth, absl::StrCat("interval ", i.low_closed ? "[" : "(", i.high_closed ? "]" : ")"));
    Expr(depth + 1, i.low.get());
    Expr(depth + 1, i.high.get());
  }

  void Test(int depth, const ast::Test& t) {
    switch (t.kind) {
      case TestKind::kAny:
        Line(depth, "test any");
        break;
      case TestKind::kCompare:
        Line(depth, absl::StrCat("test ", OpText(t.op)));
        Expr(depth + 1, t.value.get());
        break;
      case TestKind::kInterval:
        Line(depth, "test interval");
        Interval(depth + 1, *t.interval);
        break;
      case TestKind::kSet:
        Line(depth, "test set");
        for (const ExprPtr& e : t.set) Expr(depth + 1, e.get());
        break;
      case TestKind::kEqual:
        Line(depth, "test equal");
        Expr(depth + 1, t.value.get());
        break;
    }
  }

  void Row(int depth, const ast::Row& r) {
    Line(depth, "row");
    Test(depth + 1, r.test);
    Expr(depth + 1, r.value.get());
  }

  void operator()(const EnumDecl& d) {
    std::string symbols;
    for (const Ident& s : d.symbols) absl::StrAppend(&symbols, " ", s.name);
    Line(0, absl::StrCat("enum ", d.name.name, symbols));
  }
  void operator()(const ReasonDecl& d) {
    Line(0, absl::StrCat("reason ", d.code.name, " \"", d.message, "\""));
  }
  void operator()(const InputDecl& d) {
    Line(0, absl::StrCat("input ", d.name.name, ": ", Type(d.type)));
    if (d.constraint) Test(1, *d.constraint);
    if (d.default_value) {
      Line(1, "default");
      Expr(2, d.default_value.get());
    }
  }
  void operator()(const OutputDecl& d) {
    Line(0, absl::StrCat("output ", d.name.name, ": ", Type(d.type),
                         d.priority ? " priority " + d.priority->name : ""));
    if (d.value) Expr(1, d.value.get());
  }
  void operator()(const OutcomeDecl& d) {
    Line(0, absl::StrCat("outcome ", d.scale.name, d.initial ? " = " + d.initial->name : ""));
  }
  void operator()(const LetDecl& d) {
    Line(0, absl::StrCat("let ", d.name.name, d.type ? ": " + Type(*d.type) : ""));
    Expr(1, d.value.get());
  }
  void operator()(const ScorecardDecl& d) {
    Line(0, absl::StrCat("scorecard ", d.name.name));
    for (const ScoreGroup& g : d.groups) {
      Line(1, absl::StrCat("group ", g.name.name));
      Expr(2, g.weight.get());
      for (const Factor& f : g.factors) {
        Line(2,
             absl::StrCat("factor ", f.subject.name, f.reason ? " reason " + f.reason->name : "",
                          f.reason_threshold ? absl::StrCat(" when ", OpText(f.reason_op)) : ""));
        if (f.reason_threshold) Expr(3, f.reason_threshold.get());
        for (const ast::Row& r : f.rows) Row(3, r);
      }
    }
  }
  void operator()(const BandDecl& d) {
    Line(0, absl::StrCat("band ", d.name.name, d.type ? ": " + Type(*d.type) : ""));
    Expr(1, d.subject.get());
    for (const ast::Row& r : d.rows) Row(1, r);
  }
  void operator()(const TableDecl& d) {
    Line(0, absl::StrCat("table ", d.name.name, d.hit ? " hit " + d.hit->name : "",
                         d.aggregate ? " " + d.aggregate->name : ""));
    for (const ExprPtr& e : d.inputs) {
      Line(1, "input");
      Expr(2, e.get());
    }
    for (const TableColumn& c : d.outputs) {
      Line(1, absl::StrCat("output ", c.name.name, ": ", Type(c.type)));
    }
    for (const TableRow& r : d.rows) {
      Line(1, "row");
      for (const ast::Test& t : r.tests) Test(2, t);
      for (const ExprPtr& e : r.values) Expr(2, e.get());
    }
  }
  void operator()(const RuleDecl& d) {
    Line(0, absl::StrCat("rule ", d.id.name, d.priority ? " priority " + *d.priority : ""));
    Expr(1, d.condition.get());
    for (const Effect& e : d.effects) {
      static constexpr const char* kNames[] = {"outcome", "reason", "set", "cap", "raise", "add"};
      Line(1, absl::StrCat("effect ", kNames[static_cast<int>(e.kind)], " ", e.target.name,
                           e.code ? " " + e.code->name : ""));
      if (e.value) Expr(2, e.value.get());
    }
  }

 private:
  std::string out_;
};

}  // namespace

std::string Dump(const File& file) {
  Dumper dumper;
  dumper.Line(0,
              absl::StrCat(file.header.is_library ? "library " : "policy ", file.header.name.name));
  for (const HeaderField& f : file.header.fields) {
    dumper.Line(1, absl::StrCat(f.key.name, " ", f.value));
  }
  for (const Import& i : file.imports) dumper.Line(0, absl::StrCat("import ", i.path));
  for (const Declaration& d : file.declarations) std::visit(dumper, d);
  for (const Comment& c : file.comments) dumper.Line(0, c.text);
  return dumper.Take();
}

}  // namespace creditd::dsl::ast
