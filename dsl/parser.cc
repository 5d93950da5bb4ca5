#include "dsl/parser.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "CreditPolicyLexer.h"
#include "CreditPolicyParser.h"
#include "absl/strings/str_cat.h"
#include "antlr4-runtime.h"

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

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
size_t FindInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + extra >= text.size()) return i;
    uint32_t code = c & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      code = (code << 6) | (cc & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += extra + 1;
  }
  return absl::string_view::npos;
}

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

// Builds the AST from ANTLR's parse tree. Only called on trees without
// syntax errors, so every required child is present.
class AstBuilder {
 public:
  explicit AstBuilder(int file) : file_(file) {}

  std::unique_ptr<ast::File> Build(CreditPolicyParser::FileContext* ctx) {
    auto file = std::make_unique<ast::File>();
    file->file = file_;
    file->header = Header(ctx->header());
    for (auto* import : ctx->importDecl()) {
      file->imports.push_back({Unquote(import->path->getText()), Span(import)});
    }
    for (auto* decl : ctx->declaration()) file->declarations.push_back(Declaration(decl));
    return file;
  }

 private:
  using P = CreditPolicyParser;

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
          test.value = Additive(c->bound);
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
          factor.reason_threshold = Additive(f->threshold);
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
      test.value = Additive(c->additive());
    } else if (auto* i = dynamic_cast<P::IntervalTestContext*>(ctx)) {
      test.kind = ast::TestKind::kInterval;
      test.interval = Interval(i->interval());
    } else if (auto* s = dynamic_cast<P::SetTestContext*>(ctx)) {
      test.kind = ast::TestKind::kSet;
      for (auto* e : s->setLiteral()->expr()) test.set.push_back(Expr(e));
    } else if (auto* e = dynamic_cast<P::EqualTestContext*>(ctx)) {
      test.kind = ast::TestKind::kEqual;
      test.value = Additive(e->additive());
    }
    return test;
  }

  std::unique_ptr<ast::Interval> Interval(P::IntervalContext* ctx) {
    auto interval = std::make_unique<ast::Interval>();
    interval->low_closed = ctx->lo->getType() == P::LBRACK;
    interval->high_closed = ctx->hi->getType() == P::RBRACK;
    interval->low = Additive(ctx->low);
    interval->high = Additive(ctx->high);
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

  ast::ExprPtr Node(ast::ExprKind kind, antlr4::ParserRuleContext* ctx) {
    auto e = std::make_unique<ast::Expr>();
    e->kind = kind;
    e->span = Span(ctx);
    return e;
  }

  ast::ExprPtr Binary(ast::Op op, ast::ExprPtr lhs, ast::ExprPtr rhs) {
    auto e = std::make_unique<ast::Expr>();
    e->kind = ast::ExprKind::kBinary;
    e->op = op;
    e->span = lhs->span;
    e->span.end_line = rhs->span.end_line;
    e->span.end_column = rhs->span.end_column;
    e->args.push_back(std::move(lhs));
    e->args.push_back(std::move(rhs));
    return e;
  }

  ast::ExprPtr Expr(P::ExprContext* ctx) { return Or(ctx->orExpr()); }

  ast::ExprPtr Or(P::OrExprContext* ctx) {
    auto parts = ctx->andExpr();
    ast::ExprPtr e = And(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) e = Binary(ast::Op::kOr, std::move(e), And(parts[i]));
    return e;
  }

  ast::ExprPtr And(P::AndExprContext* ctx) {
    auto parts = ctx->notExpr();
    ast::ExprPtr e = Not(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i)
      e = Binary(ast::Op::kAnd, std::move(e), Not(parts[i]));
    return e;
  }

  ast::ExprPtr Not(P::NotExprContext* ctx) {
    if (ctx->NOT() != nullptr) {
      ast::ExprPtr e = Node(ast::ExprKind::kUnary, ctx);
      e->op = ast::Op::kNot;
      e->args.push_back(Not(ctx->notExpr()));
      return e;
    }
    return Comparison(ctx->comparison());
  }

  ast::ExprPtr Comparison(P::ComparisonContext* ctx) {
    auto sides = ctx->additive();
    ast::ExprPtr lhs = Additive(sides[0]);
    if (ctx->IN() != nullptr) {
      ast::ExprPtr e = Node(ast::ExprKind::kIn, ctx);
      e->op = ctx->NOT() != nullptr ? ast::Op::kNotIn : ast::Op::kIn;
      e->args.push_back(std::move(lhs));
      if (ctx->interval() != nullptr) {
        e->interval = Interval(ctx->interval());
      } else {
        for (auto* element : ctx->setLiteral()->expr()) e->args.push_back(Expr(element));
      }
      return e;
    }
    if (ctx->op != nullptr) return Binary(CompareOp(ctx->op), std::move(lhs), Additive(sides[1]));
    return lhs;
  }

  ast::ExprPtr Additive(P::AdditiveContext* ctx) {
    auto parts = ctx->multiplicative();
    ast::ExprPtr e = Multiplicative(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      const ast::Op op = ctx->op[i - 1]->getType() == P::PLUS ? ast::Op::kAdd : ast::Op::kSub;
      e = Binary(op, std::move(e), Multiplicative(parts[i]));
    }
    return e;
  }

  ast::ExprPtr Multiplicative(P::MultiplicativeContext* ctx) {
    auto parts = ctx->unary();
    ast::ExprPtr e = Unary(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      const ast::Op op = ctx->op[i - 1]->getType() == P::STAR ? ast::Op::kMul : ast::Op::kDiv;
      e = Binary(op, std::move(e), Unary(parts[i]));
    }
    return e;
  }

  ast::ExprPtr Unary(P::UnaryContext* ctx) {
    if (ctx->MINUS() != nullptr) {
      ast::ExprPtr e = Node(ast::ExprKind::kUnary, ctx);
      e->op = ast::Op::kNeg;
      e->args.push_back(Unary(ctx->unary()));
      return e;
    }
    auto* postfix = ctx->postfix();
    ast::ExprPtr e = Primary(postfix->primary());
    for (auto* member : postfix->IDENT()) {
      auto m = std::make_unique<ast::Expr>();
      m->kind = ast::ExprKind::kMember;
      m->text = member->getText();
      m->span = e->span;
      const SourceSpan end = Span(member->getSymbol());
      m->span.end_line = end.end_line;
      m->span.end_column = end.end_column;
      m->args.push_back(std::move(e));
      e = std::move(m);
    }
    return e;
  }

  ast::ExprPtr Primary(P::PrimaryContext* ctx) {
    if (auto* lit = dynamic_cast<P::LiteralExprContext*>(ctx)) {
      ast::ExprPtr e = Node(ast::ExprKind::kLiteral, ctx);
      auto* l = lit->literal();
      e->text = l->getText();
      if (l->INT_LIT() != nullptr) {
        e->literal = ast::LiteralKind::kInt;
      } else if (l->DECIMAL_LIT() != nullptr) {
        e->literal = ast::LiteralKind::kDecimal;
      } else if (l->PERCENT_LIT() != nullptr) {
        e->literal = ast::LiteralKind::kPercent;
      } else if (l->DATE_LIT() != nullptr) {
        e->literal = ast::LiteralKind::kDate;
      } else {
        e->literal = ast::LiteralKind::kBool;
      }
      return e;
    }
    if (auto* call = dynamic_cast<P::CallExprContext*>(ctx)) {
      ast::ExprPtr e = Node(ast::ExprKind::kCall, ctx);
      e->text = call->fn->getText();
      for (auto* arg : call->expr()) e->args.push_back(Expr(arg));
      return e;
    }
    if (auto* name = dynamic_cast<P::NameExprContext*>(ctx)) {
      ast::ExprPtr e = Node(ast::ExprKind::kName, ctx);
      e->text = name->IDENT()->getText();
      return e;
    }
    if (auto* paren = dynamic_cast<P::ParenExprContext*>(ctx)) {
      ast::ExprPtr e = Expr(paren->expr());
      e->parenthesized = true;
      e->span = Span(ctx);
      return e;
    }
    if (auto* cond = dynamic_cast<P::IfExprContext*>(ctx)) {
      ast::ExprPtr e = Node(ast::ExprKind::kIf, ctx);
      e->args.push_back(Expr(cond->cond));
      e->args.push_back(Expr(cond->then));
      e->args.push_back(Expr(cond->otherwise));
      return e;
    }
    auto* set = dynamic_cast<P::SetExprContext*>(ctx);
    ast::ExprPtr e = Node(ast::ExprKind::kSet, ctx);
    for (auto* element : set->setLiteral()->expr()) e->args.push_back(Expr(element));
    return e;
  }

  int file_;
};

// Rejects token streams nested deeper than the parser (and every later
// recursive pass) should handle. Counts, per declaration, the deepest
// bracket nesting plus the `if`s, and the longest run of `not`s or `-`s.
bool CheckNesting(const std::vector<antlr4::Token*>& tokens, int file, int limit,
                  DiagnosticSink& sink) {
  int depth = 0;
  int ifs = 0;
  int run = 0;
  size_t last_type = 0;
  for (antlr4::Token* token : tokens) {
    const size_t type = token->getType();
    if (token->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
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
        depth = 0;
        ifs = 0;
        break;
      case CreditPolicyLexer::LPAREN:
      case CreditPolicyLexer::LBRACK:
      case CreditPolicyLexer::LBRACE:
        ++depth;
        break;
      case CreditPolicyLexer::RPAREN:
      case CreditPolicyLexer::RBRACK:
      case CreditPolicyLexer::RBRACE:
        depth = depth > 0 ? depth - 1 : 0;
        break;
      case CreditPolicyLexer::IF:
        ++ifs;
        break;
      default:
        break;
    }
    const bool prefix = type == CreditPolicyLexer::NOT || type == CreditPolicyLexer::MINUS;
    run = prefix && (last_type == type || run == 0) ? run + 1 : (prefix ? 1 : 0);
    last_type = type;
    if (depth + ifs > limit || run > limit) {
      const int line = static_cast<int>(token->getLine());
      const int column = static_cast<int>(token->getCharPositionInLine()) + 1;
      sink.Error("E0004", SourceSpan{file, line, column, line, column + 1},
                 absl::StrCat("expression is nested too deeply (more than ", limit, " levels)"),
                 "split it into `let` values");
      return false;
    }
  }
  return true;
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
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    if (!CheckNesting(tokens.getTokens(), file, options.max_nesting, sink)) return nullptr;

    CreditPolicyParser parser(&tokens);
    parser.removeErrorListeners();
    CreditPolicyParser::FileContext* tree = nullptr;
    const int errors_before = sink.error_count();
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
      parser.setErrorHandler(std::make_shared<antlr4::DefaultErrorStrategy>());
      parser.addErrorListener(&listener);
      parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
          antlr4::atn::PredictionMode::LL);
      tree = parser.file();
    }
    *drop_cache = CachedStates(parser) > kMaxCachedStates;
    if (sink.error_count() > errors_before) return nullptr;

    AstBuilder builder(file);
    std::unique_ptr<ast::File> result = builder.Build(tree);
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
