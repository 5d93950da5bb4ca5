#include "dsl/parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "CreditPolicyLexer.h"
#include "CreditPolicyParser.h"
#include "absl/strings/str_cat.h"
#include "antlr4-runtime.h"
#include "dsl/utf8.h"

namespace creditd::dsl {
namespace {

using gen::CreditPolicyLexer;
using gen::CreditPolicyParser;

// Rewrites ANTLR's token names in an "expecting ..." list for a person:
// IDENT -> a name, INT_LIT -> a number; a long list becomes its gist.
std::string ExpectedText(const std::string& list) {
  std::string body = list;
  if (!body.empty() && body.front() == '{') body = body.substr(1, body.size() - 2);
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= body.size()) {
    size_t comma = body.find(", ", start);
    if (comma == std::string::npos) comma = body.size();
    items.push_back(body.substr(start, comma - start));
    start = comma + 2;
  }
  bool value = false, declaration = false;
  std::vector<std::string> words;
  for (const std::string& item : items) {
    if (item == "INT_LIT" || item == "DECIMAL_LIT" || item == "PERCENT_LIT" || item == "DATE_LIT") {
      value = true;
      continue;
    }
    if (item == "'rule'" || item == "'input'") declaration = true;
    std::string word = item;
    if (item == "IDENT") word = "a name";
    if (item == "STRING") word = "a quoted text";
    if (item == "VERSION_LIT") word = "a version such as 1.0.0";
    if (item == "<EOF>") word = "end of file";
    if (word.size() >= 2 && word.front() == '\'' && word.back() == '\'') {
      word = absl::StrCat("`", word.substr(1, word.size() - 2), "`");
    }
    if (std::find(words.begin(), words.end(), word) == words.end()) words.push_back(word);
  }
  if (value) return "a value";
  if (declaration && words.size() > 4) return "a declaration (input, output, let, rule, ...)";
  if (words.size() > 5) return "something else";
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += words[i];
  }
  return out;
}

// Quotes a token as ANTLR printed it ('x') in backticks; <EOF> as words.
std::string TokenText(const std::string& quoted) {
  if (quoted == "'<EOF>'" || quoted == "<EOF>") return "end of file";
  std::string inner = quoted;
  if (inner.size() >= 2 && inner.front() == '\'' && inner.back() == '\'') {
    inner = inner.substr(1, inner.size() - 2);
  }
  return absl::StrCat("`", inner, "`");
}

// ANTLR's messages, reworded in the project's style.
std::string Reword(const std::string& message) {
  auto split = [&](const std::string& prefix, const std::string& middle, std::string* a,
                   std::string* b) {
    if (message.rfind(prefix, 0) != 0) return false;
    const size_t at = message.find(middle, prefix.size());
    if (at == std::string::npos) return false;
    *a = message.substr(prefix.size(), at - prefix.size());
    *b = message.substr(at + middle.size());
    return true;
  };
  std::string a, b;
  if (split("mismatched input ", " expecting ", &a, &b) ||
      split("extraneous input ", " expecting ", &a, &b)) {
    return absl::StrCat("unexpected ", TokenText(a), ", expected ", ExpectedText(b));
  }
  if (split("missing ", " at ", &a, &b)) {
    return absl::StrCat("expected ", ExpectedText(a), " before ", TokenText(b));
  }
  if (split("no viable alternative at input ", "", &a, &b)) {
    return absl::StrCat("cannot make sense of ", TokenText(a));
  }
  return message;
}

// Turns ANTLR's syntax errors into diagnostics.
class DiagnosticListener : public antlr4::BaseErrorListener {
 public:
  DiagnosticListener(int file, DiagnosticSink& sink) : file_(file), sink_(sink) {}

  void syntaxError(antlr4::Recognizer* /*recognizer*/, antlr4::Token* offending, size_t line,
                   size_t column, const std::string& message,
                   std::exception_ptr /*error*/) override {
    SourceSpan span{file_, static_cast<int>(line), static_cast<int>(column) + 1,
                    static_cast<int>(line), static_cast<int>(column) + 2};
    if (offending != nullptr && offending->getType() != antlr4::Token::EOF) {
      span.end_column = span.column + static_cast<int>(offending->getText().size());
    }
    std::string text = Reword(message);
    if (offending != nullptr && offending->getType() == CreditPolicyLexer::BAD_CHAR) {
      text = absl::StrCat("unexpected character `", offending->getText(), "`");
    }
    sink_.Error("E0001", span, absl::StrCat("syntax error: ", text));
  }

 private:
  int file_;
  DiagnosticSink& sink_;
};

SourceSpan SpanAtOffset(const SourceFile& source, int file, size_t offset) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (source.text()[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const int column = static_cast<int>(offset - line_start) + 1;
  return SourceSpan{file, line, column, line, column + 1};
}

std::string TooDeepMessage(int limit) {
  return absl::StrCat("expression is nested too deeply: more than ", limit,
                      " levels of operators, calls, `if`s and sets");
}

const char kTooDeepHelp[] =
    "every operator adds a level (`a + b + c` is 3 deep); split the expression into `let` values";

// Builds the AST from ANTLR's parse tree. Only called on trees without
// syntax errors, so every required child is present. Every expression is at
// most `max_depth` levels of ast::Expr deep: a node that would be deeper is
// never made; E0004 goes to the sink and Build returns null.
class AstBuilder {
 public:
  AstBuilder(int file, int max_depth, DiagnosticSink& sink)
      : file_(file), max_depth_(max_depth), sink_(sink) {}

  std::unique_ptr<ast::File> Build(CreditPolicyParser::FileContext* ctx) {
    try {
      auto file = std::make_unique<ast::File>();
      file->file = file_;
      file->header = Header(ctx->header());
      for (auto* import : ctx->importDecl()) {
        file->imports.push_back({Unquote(import->path->getText()), Span(import)});
      }
      for (auto* decl : ctx->declaration()) file->declarations.push_back(Declaration(decl));
      return file;
    } catch (const TooDeep&) {
      // Reported; what was built is at most max_depth deep and unwinds here.
      return nullptr;
    }
  }

 private:
  using P = CreditPolicyParser;

  // Thrown (and caught in Build) when an expression would be too deep.
  struct TooDeep {};

  // An expression and its depth in levels (a name or literal is 1).
  struct Built {
    ast::ExprPtr expr;
    int depth = 1;
  };

  // The depth of a node over children `below` deep, at `at`; reports E0004
  // and stops the build when that is past the limit.
  int Level(int below, antlr4::Token* at) {
    if (below + 1 > max_depth_) {
      sink_.Error("E0004", Span(at), TooDeepMessage(max_depth_), kTooDeepHelp);
      throw TooDeep{};
    }
    return below + 1;
  }

  SourceSpan Span(antlr4::Token* start, antlr4::Token* stop) const {
    SourceSpan span;
    span.file = file_;
    span.line = static_cast<int>(start->getLine());
    span.column = static_cast<int>(start->getCharPositionInLine()) + 1;
    if (stop == nullptr || stop->getType() == antlr4::Token::EOF) stop = start;
    span.end_line = static_cast<int>(stop->getLine());
    span.end_column = static_cast<int>(stop->getCharPositionInLine()) + 1 +
                      static_cast<int>(stop->getStopIndex() - stop->getStartIndex() + 1);
    return span;
  }
  SourceSpan Span(antlr4::ParserRuleContext* ctx) const {
    return Span(ctx->getStart(), ctx->getStop());
  }
  SourceSpan Span(antlr4::Token* token) const { return Span(token, token); }

  ast::Ident Ident(antlr4::Token* token) const { return {token->getText(), Span(token)}; }

  static std::string Unquote(const std::string& quoted) {
    std::string out;
    for (size_t i = 1; i + 1 < quoted.size(); ++i) {
      char c = quoted[i];
      if (c == '\\' && i + 2 < quoted.size()) {
        c = quoted[++i];
        if (c == 'n') c = '\n';
        if (c == 't') c = '\t';
      }
      out.push_back(c);
    }
    return out;
  }

  ast::Header Header(P::HeaderContext* ctx) {
    ast::Header header;
    header.is_library = ctx->kind->getType() == P::LIBRARY;
    header.name = Ident(ctx->name);
    header.span = Span(ctx);
    for (auto* field : ctx->headerField()) {
      ast::HeaderField f;
      f.key = Ident(field->key);
      f.span = Span(field);
      auto* value = field->value;
      if (value->VERSION_LIT() != nullptr) {
        f.kind = ast::HeaderField::Kind::kVersion;
        f.value = value->VERSION_LIT()->getText();
      } else if (value->DATE_LIT() != nullptr) {
        f.kind = ast::HeaderField::Kind::kDate;
        f.value = value->DATE_LIT()->getText();
      } else if (value->INT_LIT() != nullptr) {
        f.kind = ast::HeaderField::Kind::kInt;
        f.value = value->INT_LIT()->getText();
      } else {
        f.kind = ast::HeaderField::Kind::kString;
        for (auto* part : value->STRING()) f.value += Unquote(part->getText());
      }
      header.fields.push_back(std::move(f));
    }
    return header;
  }

  ast::TypeRef Type(P::TypeRefContext* ctx) {
    ast::TypeRef type;
    type.is_set = ctx->SET() != nullptr;
    type.name = type.is_set ? ctx->element->getText() : ctx->name->getText();
    if (ctx->places != nullptr) type.places = ctx->places->getText();
    type.optional = ctx->optional != nullptr;
    type.span = Span(ctx);
    return type;
  }

  ast::Declaration Declaration(P::DeclarationContext* ctx) {
    if (auto* d = ctx->enumDecl()) {
      ast::EnumDecl decl{Ident(d->name), {}, Span(d)};
      auto idents = d->IDENT();
      for (size_t i = 1; i < idents.size(); ++i)
        decl.symbols.push_back(Ident(idents[i]->getSymbol()));
      return decl;
    }
    if (auto* d = ctx->reasonDecl()) {
      return ast::ReasonDecl{Ident(d->code), Unquote(d->message->getText()), Span(d)};
    }
    if (auto* d = ctx->inputDecl()) {
      ast::InputDecl decl;
      decl.name = Ident(d->name);
      decl.type = Type(d->typeRef());
      if (auto* c = d->constraint()) {
        ast::Test test;
        test.span = Span(c);
        if (c->interval() != nullptr) {
          test.kind = ast::TestKind::kInterval;
          test.interval = Interval(c->interval());
        } else {
          test.kind = ast::TestKind::kCompare;
          test.op = CompareOp(c->op);
          test.value = Expr(c->bound);
        }
        decl.constraint = std::move(test);
      }
      if (d->defaultValue != nullptr) decl.default_value = Expr(d->defaultValue);
      decl.span = Span(d);
      return decl;
    }
    if (auto* d = ctx->outputDecl()) {
      ast::OutputDecl decl;
      decl.name = Ident(d->name);
      decl.type = Type(d->typeRef());
      if (d->value != nullptr) decl.value = Expr(d->value);
      if (d->order != nullptr) decl.priority = Ident(d->order);
      decl.span = Span(d);
      return decl;
    }
    if (auto* d = ctx->outcomeDecl()) {
      ast::OutcomeDecl decl;
      decl.scale = Ident(d->scale);
      if (d->initial != nullptr) decl.initial = Ident(d->initial);
      decl.span = Span(d);
      return decl;
    }
    if (auto* d = ctx->letDecl()) {
      ast::LetDecl decl;
      decl.name = Ident(d->name);
      if (d->typeRef() != nullptr) decl.type = Type(d->typeRef());
      decl.value = Expr(d->value);
      decl.span = Span(d);
      return decl;
    }
    if (auto* d = ctx->scorecardDecl()) return Scorecard(d);
    if (auto* d = ctx->bandDecl()) {
      ast::BandDecl decl;
      decl.name = Ident(d->name);
      if (d->typeRef() != nullptr) decl.type = Type(d->typeRef());
      decl.subject = Expr(d->subject);
      for (auto* row : d->row()) decl.rows.push_back(Row(row));
      decl.span = Span(d);
      return decl;
    }
    if (auto* d = ctx->tableDecl()) return Table(d);
    return Rule(ctx->ruleDecl());
  }

  ast::ScorecardDecl Scorecard(P::ScorecardDeclContext* ctx) {
    ast::ScorecardDecl decl;
    decl.name = Ident(ctx->name);
    decl.span = Span(ctx);
    for (auto* g : ctx->scoreGroup()) {
      ast::ScoreGroup group;
      group.name = Ident(g->name);
      group.weight = Expr(g->weight);
      group.span = Span(g);
      for (auto* f : g->factor()) {
        ast::Factor factor;
        factor.subject = Ident(f->subject);
        if (f->code != nullptr) factor.reason = Ident(f->code);
        if (f->threshold != nullptr) {
          factor.reason_op = CompareOp(f->op);
          factor.reason_threshold = Expr(f->threshold);
        }
        for (auto* row : f->row()) factor.rows.push_back(Row(row));
        factor.span = Span(f);
        group.factors.push_back(std::move(factor));
      }
      decl.groups.push_back(std::move(group));
    }
    return decl;
  }

  ast::TableDecl Table(P::TableDeclContext* ctx) {
    ast::TableDecl decl;
    decl.name = Ident(ctx->name);
    if (ctx->policy != nullptr) decl.hit = Ident(ctx->policy);
    if (ctx->aggregate != nullptr) decl.aggregate = Ident(ctx->aggregate);
    auto* header = ctx->tableHeader();
    for (auto* e : header->expr()) decl.inputs.push_back(Expr(e));
    for (auto* c : header->tableColumn()) {
      decl.outputs.push_back({Ident(c->name), Type(c->typeRef()), Span(c)});
    }
    for (auto* r : ctx->tableRow()) {
      ast::TableRow row;
      for (auto* t : r->test()) row.tests.push_back(Test(t));
      for (auto* e : r->expr()) row.values.push_back(Expr(e));
      row.span = Span(r);
      decl.rows.push_back(std::move(row));
    }
    decl.span = Span(ctx);
    return decl;
  }

  ast::RuleDecl Rule(P::RuleDeclContext* ctx) {
    ast::RuleDecl decl;
    decl.id = Ident(ctx->id);
    if (ctx->priority != nullptr) {
      decl.priority = ctx->priority->getText();
      decl.priority_span = Span(ctx->priority);
    }
    decl.condition = Expr(ctx->condition);
    for (auto* e : ctx->effect()) decl.effects.push_back(Effect(e));
    decl.span = Span(ctx);
    return decl;
  }

  ast::Effect Effect(P::EffectContext* ctx) {
    ast::Effect effect;
    effect.span = Span(ctx);
    if (auto* e = dynamic_cast<P::OutcomeEffectContext*>(ctx)) {
      effect.kind = ast::EffectKind::kOutcome;
      effect.target = Ident(e->outcome);
      if (e->code != nullptr) effect.code = Ident(e->code);
    } else if (auto* r = dynamic_cast<P::ReasonEffectContext*>(ctx)) {
      effect.kind = ast::EffectKind::kReason;
      effect.code = Ident(r->code);
    } else if (auto* s = dynamic_cast<P::SetEffectContext*>(ctx)) {
      effect.kind = ast::EffectKind::kSet;
      effect.target = Ident(s->target);
      effect.value = Expr(s->value);
    } else if (auto* c = dynamic_cast<P::CapEffectContext*>(ctx)) {
      effect.kind = ast::EffectKind::kCap;
      effect.target = Ident(c->target);
      effect.value = Expr(c->value);
    } else if (auto* ra = dynamic_cast<P::RaiseEffectContext*>(ctx)) {
      effect.kind = ast::EffectKind::kRaise;
      effect.target = Ident(ra->target);
      effect.value = Expr(ra->value);
    } else if (auto* a = dynamic_cast<P::AddEffectContext*>(ctx)) {
      effect.kind = ast::EffectKind::kAdd;
      effect.target = Ident(a->target);
      effect.value = Expr(a->value);
    }
    return effect;
  }

  ast::Row Row(P::RowContext* ctx) {
    return ast::Row{Test(ctx->test()), Expr(ctx->value), Span(ctx)};
  }

  ast::Test Test(P::TestContext* ctx) {
    ast::Test test;
    test.span = Span(ctx);
    if (dynamic_cast<P::AnyTestContext*>(ctx) != nullptr) {
      test.kind = ast::TestKind::kAny;
    } else if (auto* c = dynamic_cast<P::CompareTestContext*>(ctx)) {
      test.kind = ast::TestKind::kCompare;
      test.op = CompareOp(c->op);
      test.value = Expr(c->additive());
    } else if (auto* i = dynamic_cast<P::IntervalTestContext*>(ctx)) {
      test.kind = ast::TestKind::kInterval;
      test.interval = Interval(i->interval());
    } else if (auto* s = dynamic_cast<P::SetTestContext*>(ctx)) {
      test.kind = ast::TestKind::kSet;
      for (auto* e : s->setLiteral()->expr()) test.set.push_back(Expr(e));
    } else if (auto* e = dynamic_cast<P::EqualTestContext*>(ctx)) {
      test.kind = ast::TestKind::kEqual;
      test.value = Expr(e->additive());
    }
    return test;
  }

  // An interval; `depth` (when given) is set to its deeper bound's depth.
  std::unique_ptr<ast::Interval> Interval(P::IntervalContext* ctx, int* depth = nullptr) {
    auto interval = std::make_unique<ast::Interval>();
    interval->low_closed = ctx->lo->getType() == P::LBRACK;
    interval->high_closed = ctx->hi->getType() == P::RBRACK;
    Built low = Sub(ctx->low);
    Built high = Sub(ctx->high);
    if (depth != nullptr) *depth = std::max(low.depth, high.depth);
    interval->low = std::move(low.expr);
    interval->high = std::move(high.expr);
    interval->span = Span(ctx);
    return interval;
  }

  static ast::Op CompareOp(antlr4::Token* token) {
    switch (token->getType()) {
      case P::LT:
        return ast::Op::kLt;
      case P::LE:
        return ast::Op::kLe;
      case P::GT:
        return ast::Op::kGt;
      case P::GE:
        return ast::Op::kGe;
      case P::EQ:
        return ast::Op::kEq;
      case P::NE:
        return ast::Op::kNe;
      default:
        return ast::Op::kNone;
    }
  }

  // A node of `kind` spanning `ctx`, over `children` (moved into its args):
  // refused when it would be too deep.
  Built Node(ast::ExprKind kind, antlr4::ParserRuleContext* ctx, std::vector<Built> children = {},
             int below = 0) {
    for (const Built& child : children) below = std::max(below, child.depth);
    Built node{std::make_unique<ast::Expr>(), Level(below, ctx->getStart())};
    node.expr->kind = kind;
    node.expr->span = Span(ctx);
    for (Built& child : children) node.expr->args.push_back(std::move(child.expr));
    return node;
  }

  // `lhs op rhs`, spanning both; `at` is the operator.
  Built Binary(ast::Op op, Built lhs, Built rhs, antlr4::Token* at) {
    Built node{std::make_unique<ast::Expr>(), Level(std::max(lhs.depth, rhs.depth), at)};
    ast::Expr& e = *node.expr;
    e.kind = ast::ExprKind::kBinary;
    e.op = op;
    e.span = lhs.expr->span;
    e.span.end_line = rhs.expr->span.end_line;
    e.span.end_column = rhs.expr->span.end_column;
    e.args.push_back(std::move(lhs.expr));
    e.args.push_back(std::move(rhs.expr));
    return node;
  }

  // A whole expression (a declaration's value, a row's result, ...).
  ast::ExprPtr Expr(antlr4::ParserRuleContext* ctx) { return Sub(ctx).expr; }

  // The tree for `ctx`: an expression rule or any level of its precedence
  // chain (orExpr ... unary). Most levels hold one child; those are walked
  // down in a loop, so building recurses about three times per bracket or
  // call, not ten.
  Built Sub(antlr4::ParserRuleContext* ctx) {
    while (true) {
      switch (ctx->getRuleIndex()) {
        case P::RuleExpr:
          ctx = static_cast<P::ExprContext*>(ctx)->orExpr();
          break;
        case P::RuleOrExpr: {
          auto* o = static_cast<P::OrExprContext*>(ctx);
          if (o->andExpr(1) != nullptr) return Or(o);
          ctx = o->andExpr(0);
          break;
        }
        case P::RuleAndExpr: {
          auto* a = static_cast<P::AndExprContext*>(ctx);
          if (a->notExpr(1) != nullptr) return And(a);
          ctx = a->notExpr(0);
          break;
        }
        case P::RuleNotExpr: {
          auto* n = static_cast<P::NotExprContext*>(ctx);
          if (n->NOT() != nullptr) return Not(n);
          ctx = n->comparison();
          break;
        }
        case P::RuleComparison: {
          auto* c = static_cast<P::ComparisonContext*>(ctx);
          if (c->op != nullptr || c->IN() != nullptr) return Comparison(c);
          ctx = c->additive(0);
          break;
        }
        case P::RuleAdditive: {
          auto* a = static_cast<P::AdditiveContext*>(ctx);
          if (a->multiplicative(1) != nullptr) return Additive(a);
          ctx = a->multiplicative(0);
          break;
        }
        case P::RuleMultiplicative: {
          auto* m = static_cast<P::MultiplicativeContext*>(ctx);
          if (m->unary(1) != nullptr) return Multiplicative(m);
          ctx = m->unary(0);
          break;
        }
        default:
          return Unary(static_cast<P::UnaryContext*>(ctx));
      }
    }
  }

  Built Or(P::OrExprContext* ctx) {
    auto parts = ctx->andExpr();
    Built e = Sub(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      e = Binary(ast::Op::kOr, std::move(e), Sub(parts[i]), ctx->OR(i - 1)->getSymbol());
    }
    return e;
  }

  Built And(P::AndExprContext* ctx) {
    auto parts = ctx->notExpr();
    Built e = Sub(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      e = Binary(ast::Op::kAnd, std::move(e), Sub(parts[i]), ctx->AND(i - 1)->getSymbol());
    }
    return e;
  }

  Built Not(P::NotExprContext* ctx) {
    std::vector<Built> operand;
    operand.push_back(Sub(ctx->notExpr()));
    Built e = Node(ast::ExprKind::kUnary, ctx, std::move(operand));
    e.expr->op = ast::Op::kNot;
    return e;
  }

  Built Comparison(P::ComparisonContext* ctx) {
    Built lhs = Sub(ctx->additive(0));
    if (ctx->IN() != nullptr) return In(ctx, std::move(lhs));
    return Binary(CompareOp(ctx->op), std::move(lhs), Sub(ctx->additive(1)), ctx->op);
  }

  Built In(P::ComparisonContext* ctx, Built lhs) {
    std::vector<Built> args;
    args.push_back(std::move(lhs));
    std::unique_ptr<ast::Interval> interval;
    int bounds = 0;
    if (ctx->interval() != nullptr) {
      interval = Interval(ctx->interval(), &bounds);
    } else {
      for (auto* element : ctx->setLiteral()->expr()) args.push_back(Sub(element));
    }
    Built e = Node(ast::ExprKind::kIn, ctx, std::move(args), bounds);
    e.expr->op = ctx->NOT() != nullptr ? ast::Op::kNotIn : ast::Op::kIn;
    e.expr->interval = std::move(interval);
    return e;
  }

  Built Additive(P::AdditiveContext* ctx) {
    auto parts = ctx->multiplicative();
    Built e = Sub(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      antlr4::Token* op = ctx->op[i - 1];
      e = Binary(op->getType() == P::PLUS ? ast::Op::kAdd : ast::Op::kSub, std::move(e),
                 Sub(parts[i]), op);
    }
    return e;
  }

  Built Multiplicative(P::MultiplicativeContext* ctx) {
    auto parts = ctx->unary();
    Built e = Sub(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      antlr4::Token* op = ctx->op[i - 1];
      e = Binary(op->getType() == P::STAR ? ast::Op::kMul : ast::Op::kDiv, std::move(e),
                 Sub(parts[i]), op);
    }
    return e;
  }

  Built Unary(P::UnaryContext* ctx) {
    if (ctx->MINUS() != nullptr) return Negation(ctx);
    auto* postfix = ctx->postfix();
    Built e = Primary(postfix->primary());
    if (postfix->IDENT(0) != nullptr) e = Members(postfix, std::move(e));
    return e;
  }

  Built Negation(P::UnaryContext* ctx) {
    std::vector<Built> operand;
    operand.push_back(Unary(ctx->unary()));
    Built e = Node(ast::ExprKind::kUnary, ctx, std::move(operand));
    e.expr->op = ast::Op::kNeg;
    return e;
  }

  // `e.name.name...`
  Built Members(P::PostfixContext* postfix, Built e) {
    for (auto* member : postfix->IDENT()) {
      Built m{std::make_unique<ast::Expr>(), Level(e.depth, member->getSymbol())};
      m.expr->kind = ast::ExprKind::kMember;
      m.expr->text = member->getText();
      m.expr->span = e.expr->span;
      const SourceSpan end = Span(member->getSymbol());
      m.expr->span.end_line = end.end_line;
      m.expr->span.end_column = end.end_column;
      m.expr->args.push_back(std::move(e.expr));
      e = std::move(m);
    }
    return e;
  }

  // Each alternative in a function of its own: only a bracket's recurses,
  // and its frame stays small.
  Built Primary(P::PrimaryContext* ctx) {
    if (auto* paren = dynamic_cast<P::ParenExprContext*>(ctx)) {
      // Brackets group; they add no level of their own.
      Built e = Sub(paren->expr());
      e.expr->parenthesized = true;
      e.expr->span = Span(ctx);
      return e;
    }
    if (auto* name = dynamic_cast<P::NameExprContext*>(ctx)) return Name(name);
    if (auto* lit = dynamic_cast<P::LiteralExprContext*>(ctx)) return Literal(lit);
    if (auto* call = dynamic_cast<P::CallExprContext*>(ctx)) return Call(call);
    if (auto* cond = dynamic_cast<P::IfExprContext*>(ctx)) return If(cond);
    return Set(dynamic_cast<P::SetExprContext*>(ctx));
  }

  Built Name(P::NameExprContext* ctx) {
    Built e = Node(ast::ExprKind::kName, ctx);
    e.expr->text = ctx->IDENT()->getText();
    return e;
  }

  Built Literal(P::LiteralExprContext* ctx) {
    Built e = Node(ast::ExprKind::kLiteral, ctx);
    auto* l = ctx->literal();
    e.expr->text = l->getText();
    if (l->INT_LIT() != nullptr) {
      e.expr->literal = ast::LiteralKind::kInt;
    } else if (l->DECIMAL_LIT() != nullptr) {
      e.expr->literal = ast::LiteralKind::kDecimal;
    } else if (l->PERCENT_LIT() != nullptr) {
      e.expr->literal = ast::LiteralKind::kPercent;
    } else if (l->DATE_LIT() != nullptr) {
      e.expr->literal = ast::LiteralKind::kDate;
    } else {
      e.expr->literal = ast::LiteralKind::kBool;
    }
    return e;
  }

  Built Call(P::CallExprContext* ctx) {
    std::vector<Built> args;
    for (auto* arg : ctx->expr()) args.push_back(Sub(arg));
    Built e = Node(ast::ExprKind::kCall, ctx, std::move(args));
    e.expr->text = ctx->fn->getText();
    return e;
  }

  Built If(P::IfExprContext* ctx) {
    std::vector<Built> args;
    args.push_back(Sub(ctx->cond));
    args.push_back(Sub(ctx->then));
    args.push_back(Sub(ctx->otherwise));
    return Node(ast::ExprKind::kIf, ctx, std::move(args));
  }

  Built Set(P::SetExprContext* ctx) {
    std::vector<Built> elements;
    for (auto* element : ctx->setLiteral()->expr()) elements.push_back(Sub(element));
    return Node(ast::ExprKind::kSet, ctx, std::move(elements));
  }

  int file_;
  int max_depth_;
  DiagnosticSink& sink_;
};

bool IsDeclarationKeyword(size_t type) {
  switch (type) {
    case CreditPolicyLexer::ENUM:
    case CreditPolicyLexer::REASON:
    case CreditPolicyLexer::INPUT:
    case CreditPolicyLexer::OUTPUT:
    case CreditPolicyLexer::OUTCOME:
    case CreditPolicyLexer::LET:
    case CreditPolicyLexer::SCORECARD:
    case CreditPolicyLexer::BAND:
    case CreditPolicyLexer::TABLE:
    case CreditPolicyLexer::RULE:
      return true;
    default:
      return false;
  }
}

// A token that ends an operand: a name, a literal, a closing bracket.
bool EndsOperand(size_t type) {
  switch (type) {
    case CreditPolicyLexer::IDENT:
    case CreditPolicyLexer::INT_LIT:
    case CreditPolicyLexer::DECIMAL_LIT:
    case CreditPolicyLexer::PERCENT_LIT:
    case CreditPolicyLexer::DATE_LIT:
    case CreditPolicyLexer::TRUE:
    case CreditPolicyLexer::FALSE:
    case CreditPolicyLexer::RPAREN:
    case CreditPolicyLexer::RBRACK:
    case CreditPolicyLexer::RBRACE:
      return true;
    default:
      return false;
  }
}

// A token that starts an operand without a bracket.
bool StartsOperand(size_t type) {
  return type != CreditPolicyLexer::RPAREN && type != CreditPolicyLexer::RBRACK &&
         type != CreditPolicyLexer::RBRACE && EndsOperand(type);
}

// Binary operators by how loosely they bind; comparisons and `in` end the
// chains of tighter operators but form no chain themselves.
enum Chain { kOrChain, kAndChain, kAddChain, kMulChain, kChains, kCompare = kChains, kNoOp };

Chain ChainOf(size_t type, bool after_operand, bool before_in) {
  switch (type) {
    case CreditPolicyLexer::OR:
      return kOrChain;
    case CreditPolicyLexer::AND:
      return kAndChain;
    case CreditPolicyLexer::PLUS:
      return kAddChain;
    case CreditPolicyLexer::MINUS:
      return after_operand ? kAddChain : kNoOp;  // otherwise a prefix minus
    case CreditPolicyLexer::STAR:
    case CreditPolicyLexer::SLASH:
      return kMulChain;
    case CreditPolicyLexer::LT:
    case CreditPolicyLexer::LE:
    case CreditPolicyLexer::GT:
    case CreditPolicyLexer::GE:
    case CreditPolicyLexer::EQ:
    case CreditPolicyLexer::NE:
    case CreditPolicyLexer::IN:
      return kCompare;
    case CreditPolicyLexer::NOT:
      return before_in ? kCompare : kNoOp;  // `not in`; otherwise a prefix not
    default:
      return kNoOp;
  }
}

// Looks at the tokens as the lexer makes them, before the parser runs, for
// two things.
//
// What the parser recurses on: brackets open at once, `if`s (per
// declaration), and the `not`s and `-`s still applying to the operand being
// read. More than options.max_nesting of them together is E0004: the
// parser recurses about ten rules deep per bracket or `if`. The counts start
// over at a declaration only when nothing is open, so broken input (a
// declaration keyword inside brackets) cannot reset them while the parser
// is still deep.
//
// Chains of one operator: `a + b + c` at one bracket level is one chain,
// as deep as it has operators plus one. A chain longer than any expression
// may be deep (options.max_depth) is E0004 here, so a file of nothing but
// `a + a + ...` is refused after a few hundred tokens, without lexing the
// rest or parsing any. A lower bound only: the AST builder measures the
// real depth.
class NestingCheck {
 public:
  NestingCheck(int file, const ParseOptions& options, DiagnosticSink& sink)
      : file_(file), options_(options), sink_(sink) {}

  // Takes the next token; false once the input is refused (reported).
  bool Add(antlr4::Token* token) {
    if (token->getChannel() != antlr4::Token::DEFAULT_CHANNEL) return true;
    // Each token is looked at when the one after it is known.
    antlr4::Token* previous = pending_;
    pending_ = token;
    return previous == nullptr || Look(previous, token->getType());
  }
  // After the last token.
  bool Finish() {
    antlr4::Token* last = pending_;
    pending_ = nullptr;
    return last == nullptr || Look(last, 0);
  }

 private:
  struct Level {
    int nots = 0;     // `not`s applying to the comparison being read
    int minuses = 0;  // `-`s applying to the operand being read
    std::array<int, kChains> chains{};
    void EndChains(int from) {
      for (int c = from; c < kChains; ++c) chains[static_cast<size_t>(c)] = 0;
    }
    void EndExpression() {
      nots = 0;
      minuses = 0;
      EndChains(0);
    }
  };

  SourceSpan At(antlr4::Token* token) const {
    const int line = static_cast<int>(token->getLine());
    const int column = static_cast<int>(token->getCharPositionInLine()) + 1;
    return SourceSpan{file_, line, column, line, column + 1};
  }

  // `token`, followed by a token of type `next` (0: none).
  bool Look(antlr4::Token* token, size_t next) {
    const size_t type = token->getType();
    Level& level = levels_.back();
    const bool after_operand = EndsOperand(last_);
    const Chain chain = ChainOf(type, after_operand, next == CreditPolicyLexer::IN);
    if (chain < kChains) {
      level.EndChains(chain + 1);
      if (chain <= kAndChain) level.nots = 0;  // `not a and b`: the `not` ends at `and`
      if (++level.chains[chain] >= options_.max_depth) {
        sink_.Error("E0004", At(token), TooDeepMessage(options_.max_depth), kTooDeepHelp);
        return false;
      }
    } else if (chain == kCompare) {
      level.EndChains(kAddChain);
    } else if (type == CreditPolicyLexer::NOT) {
      ++level.nots;
    } else if (type == CreditPolicyLexer::MINUS) {
      ++level.minuses;
    } else if (type == CreditPolicyLexer::LPAREN || type == CreditPolicyLexer::LBRACK ||
               type == CreditPolicyLexer::LBRACE) {
      levels_.emplace_back();  // `level` is not used past here
    } else if (type == CreditPolicyLexer::RPAREN || type == CreditPolicyLexer::RBRACK ||
               type == CreditPolicyLexer::RBRACE) {
      if (levels_.size() > 1) levels_.pop_back();
      levels_.back().minuses = 0;  // the bracket was the operand
    } else if (type == CreditPolicyLexer::DOT) {
      // `a.b`: the member belongs to the operand before it.
    } else if (StartsOperand(type)) {
      // An operand right after another starts a new expression (`then
      // refer decline`); a name before `(` is a call, not yet the operand.
      if (after_operand) level.EndExpression();
      if (next != CreditPolicyLexer::LPAREN) level.minuses = 0;
    } else {
      // Keywords and separators (`then`, `,`, `|`, `=>`, ...) end the
      // expression being read at this level.
      level.EndExpression();
      if (type == CreditPolicyLexer::IF) {
        ++ifs_;
        ++open_ifs_;
      } else if (type == CreditPolicyLexer::ELSE && open_ifs_ > 0) {
        --open_ifs_;
      } else if (IsDeclarationKeyword(type) && levels_.size() == 1 && open_ifs_ == 0) {
        ifs_ = 0;
      }
    }
    // A bracket starts its level afresh.
    last_ = type == CreditPolicyLexer::LPAREN || type == CreditPolicyLexer::LBRACK ||
                    type == CreditPolicyLexer::LBRACE
                ? 0
                : type;
    int nesting = static_cast<int>(levels_.size()) - 1 + ifs_;
    for (const Level& l : levels_) nesting += l.nots + l.minuses;
    if (nesting > options_.max_nesting) {
      sink_.Error("E0004", At(token),
                  absl::StrCat("expression is nested too deeply: more than ", options_.max_nesting,
                               " brackets, `if`s, `not`s and `-`s inside one another"),
                  "split it into `let` values");
      return false;
    }
    return true;
  }

  int file_;
  const ParseOptions& options_;
  DiagnosticSink& sink_;
  antlr4::Token* pending_ = nullptr;
  std::vector<Level> levels_ = std::vector<Level>(1);
  int ifs_ = 0;       // `if`s in this declaration
  int open_ifs_ = 0;  // `if`s whose `else` has not come yet
  size_t last_ = 0;   // the previous token's type at this level (0: none)
};

// Stops the parser past a depth of grammar rules. CheckNesting keeps any
// input well inside it; this bounds the parser's recursion whatever its
// error recovery makes of broken input.
class RecursionGuard : public antlr4::tree::ParseTreeListener {
 public:
  // Thrown out of the parser when the guard trips.
  struct Tripped {};

  explicit RecursionGuard(int limit) : limit_(limit) {}

  void enterEveryRule(antlr4::ParserRuleContext* /*ctx*/) override {
    if (++depth_ > limit_) throw Tripped{};
  }
  void exitEveryRule(antlr4::ParserRuleContext* /*ctx*/) override { --depth_; }
  void visitTerminal(antlr4::tree::TerminalNode* /*node*/) override {}
  void visitErrorNode(antlr4::tree::ErrorNode* /*node*/) override {}
  void Reset() { depth_ = 0; }

 private:
  int limit_;
  int depth_ = 0;
};

// The rule depth the guard allows: what CheckNesting lets through (about
// ten rules per bracket, `if`, `not` or `-`, from a declaration ten rules
// down), with room to spare.
int RuleDepthLimit(const ParseOptions& options) {
  const int64_t limit = 12 * (int64_t{options.max_nesting} + 4);
  return static_cast<int>(std::min<int64_t>(limit, std::numeric_limits<int>::max()));
}

// ANTLR caches prediction states (DFA) across parses, shared by every parser
// in the process, and never drops them. Valid policies use a small, stable
// set; arbitrary input (a candidate sent for validation, a fuzzer) keeps
// adding states. Past this many the cache is dropped and rebuilt on demand.
constexpr size_t kMaxCachedStates = 20000;

// Parses share the caches; dropping them needs every parse out of the way.
std::shared_mutex& CacheMutex() {
  static std::shared_mutex mutex;
  return mutex;
}

size_t CachedStates(CreditPolicyParser& parser) {
  size_t states = 0;
  for (const antlr4::dfa::DFA& dfa :
       parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->decisionToDFA) {
    states += dfa.states.size();
  }
  return states;
}

absl::StatusOr<std::unique_ptr<ast::File>> ParseLocked(const SourceFile& source, int file,
                                                       DiagnosticSink& sink,
                                                       const ParseOptions& options,
                                                       bool* drop_cache);

}  // namespace

absl::StatusOr<std::unique_ptr<ast::File>> Parse(const SourceSet& sources, int file,
                                                 DiagnosticSink& sink,
                                                 const ParseOptions& options) {
  if (file < 0 || file >= sources.size()) {
    return absl::InvalidArgumentError(absl::StrCat("no source file with index ", file));
  }
  const SourceFile& source = sources.file(file);
  if (source.text().size() > options.max_bytes) {
    sink.Error("E0002", SourceSpan{file, 1, 1, 1, 2},
               absl::StrCat("file is too large: ", source.text().size(), " bytes, at most ",
                            options.max_bytes, " are read"));
    return nullptr;
  }
  if (size_t bad = FindInvalidUtf8(source.text()); bad != absl::string_view::npos) {
    sink.Error("E0003", SpanAtOffset(source, file, bad), "file is not valid UTF-8",
               "save the file as UTF-8");
    return nullptr;
  }

  bool drop_cache = false;
  absl::StatusOr<std::unique_ptr<ast::File>> result = nullptr;
  {
    std::shared_lock<std::shared_mutex> lock(CacheMutex());
    result = ParseLocked(source, file, sink, options, &drop_cache);
  }
  if (drop_cache) {
    std::unique_lock<std::shared_mutex> lock(CacheMutex());
    antlr4::ANTLRInputStream input("");
    CreditPolicyLexer lexer(&input);
    antlr4::CommonTokenStream tokens(&lexer);
    CreditPolicyParser parser(&tokens);
    if (CachedStates(parser) > kMaxCachedStates) {
      parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->clearDFA();
      lexer.getInterpreter<antlr4::atn::LexerATNSimulator>()->clearDFA();
    }
  }
  return result;
}

namespace {

absl::StatusOr<std::unique_ptr<ast::File>> ParseLocked(const SourceFile& source, int file,
                                                       DiagnosticSink& sink,
                                                       const ParseOptions& options,
                                                       bool* drop_cache) {
  try {
    DiagnosticListener listener(file, sink);
    antlr4::ANTLRInputStream input(source.text());
    CreditPolicyLexer lexer(&input);
    lexer.removeErrorListeners();
    lexer.addErrorListener(&listener);
    // Lexed one token at a time, each looked at as it comes: input refused
    // for its nesting is refused where it goes wrong, not after lexing all
    // of it. The parser then reads the same tokens.
    std::vector<std::unique_ptr<antlr4::Token>> lexed;
    NestingCheck nesting(file, options, sink);
    while (true) {
      std::unique_ptr<antlr4::Token> token = lexer.nextToken();
      const bool end = token->getType() == antlr4::Token::EOF;
      if (!nesting.Add(token.get())) return nullptr;
      lexed.push_back(std::move(token));
      if (end) break;
    }
    if (!nesting.Finish()) return nullptr;
    antlr4::ListTokenSource lexed_source(std::move(lexed));
    antlr4::CommonTokenStream tokens(&lexed_source);
    tokens.fill();

    CreditPolicyParser parser(&tokens);
    parser.removeErrorListeners();
    RecursionGuard guard(RuleDepthLimit(options));
    parser.addParseListener(&guard);
    CreditPolicyParser::FileContext* tree = nullptr;
    const int errors_before = sink.error_count();
    try {
      if (options.prediction == PredictionMode::kTwoStage) {
        // SLL is enough for this grammar on valid input; on any error, rerun
        // with full LL so the reported errors are exact.
        parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
            antlr4::atn::PredictionMode::SLL);
        parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
        try {
          tree = parser.file();
        } catch (const antlr4::ParseCancellationException&) {
          tree = nullptr;
        }
      }
      if (tree == nullptr) {
        tokens.seek(0);
        parser.reset();
        guard.Reset();
        parser.setErrorHandler(std::make_shared<antlr4::DefaultErrorStrategy>());
        parser.addErrorListener(&listener);
        parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
            antlr4::atn::PredictionMode::LL);
        tree = parser.file();
      }
    } catch (const RecursionGuard::Tripped&) {
      *drop_cache = CachedStates(parser) > kMaxCachedStates;
      antlr4::Token* token = parser.getCurrentToken();
      const int line = static_cast<int>(token->getLine());
      const int column = static_cast<int>(token->getCharPositionInLine()) + 1;
      sink.Error("E0004", SourceSpan{file, line, column, line, column + 1},
                 "expression is nested too deeply for the parser", "split it into `let` values");
      return nullptr;
    }
    *drop_cache = CachedStates(parser) > kMaxCachedStates;
    if (sink.error_count() > errors_before) return nullptr;

    AstBuilder builder(file, options.max_depth, sink);
    std::unique_ptr<ast::File> result = builder.Build(tree);
    if (result == nullptr) return nullptr;
    for (antlr4::Token* token : tokens.getTokens()) {
      if (token->getType() == CreditPolicyLexer::COMMENT) {
        const int line = static_cast<int>(token->getLine());
        const int column = static_cast<int>(token->getCharPositionInLine()) + 1;
        std::string text = token->getText();
        while (!text.empty() &&
               (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
          text.pop_back();
        }
        result->comments.push_back(
            {text, SourceSpan{file, line, column, line, column + static_cast<int>(text.size())}});
      }
    }
    return result;
  } catch (const std::exception& e) {
    // The runtime should not throw on any input; if it does, the file is
    // reported as unreadable rather than crashing the caller.
    sink.Error("E0001", SourceSpan{file, 1, 1, 1, 2},
               absl::StrCat("syntax error: the parser gave up: ", e.what()));
    return nullptr;
  }
}

}  // namespace

absl::Status CheckSyntax(const SourceSet& sources, int file, DiagnosticSink& sink,
                         const ParseOptions& options) {
  return Parse(sources, file, sink, options).status();
}

}  // namespace creditd::dsl
