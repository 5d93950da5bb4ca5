#include "dsl/formatter.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace creditd::dsl {
namespace {

using ast::Expr;
using ast::ExprKind;
using ast::Op;

// Binding strength, loosest first; matches the grammar's layers.
int Precedence(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kIf:
      return 0;
    case ExprKind::kIn:
      return 4;
    case ExprKind::kUnary:
      return e.op == Op::kNot ? 3 : 7;
    case ExprKind::kBinary:
      switch (e.op) {
        case Op::kOr:
          return 1;
        case Op::kAnd:
          return 2;
        case Op::kAdd:
        case Op::kSub:
          return 5;
        case Op::kMul:
        case Op::kDiv:
          return 6;
        default:
          return 4;  // comparisons
      }
    default:
      return 8;
  }
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The expression printers append to one string and keep no text of their
// own, so printing is linear and each level of recursion is a small frame.
void AppendExpr(const Expr& e, std::string* out);

// Appends `e` as an operand that must bind at least as tightly as `min`.
void AppendOperand(const Expr& e, int min, std::string* out) {
  const bool wrap = !e.parenthesized && Precedence(e) < min;
  if (wrap) out->push_back('(');
  AppendExpr(e, out);
  if (wrap) out->push_back(')');
}

void AppendInterval(const ast::Interval& i, std::string* out) {
  out->push_back(i.low_closed ? '[' : '(');
  AppendOperand(*i.low, 5, out);
  out->append(", ");
  AppendOperand(*i.high, 5, out);
  out->push_back(i.high_closed ? ']' : ')');
}

void AppendList(const std::vector<ast::ExprPtr>& list, size_t from, std::string* out) {
  for (size_t i = from; i < list.size(); ++i) {
    if (i > from) out->append(", ");
    AppendExpr(*list[i], out);
  }
}

void AppendOperator(const Expr& e, std::string* out) {
  out->push_back(' ');
  out->append(ast::OpText(e.op));
  out->push_back(' ');
}

void AppendBare(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kLiteral:
    case ExprKind::kName:
      out->append(e.text);
      return;
    case ExprKind::kMember:
      AppendOperand(*e.args[0], 8, out);
      out->push_back('.');
      out->append(e.text);
      return;
    case ExprKind::kCall:
      out->append(e.text);
      out->push_back('(');
      AppendList(e.args, 0, out);
      out->push_back(')');
      return;
    case ExprKind::kUnary:
      out->append(e.op == Op::kNot ? "not " : "-");
      AppendOperand(*e.args[0], e.op == Op::kNot ? 3 : 7, out);
      return;
    case ExprKind::kBinary: {
      // Left-nested chains print without parentheses; a right operand of the
      // same strength needs them, and comparisons do not chain.
      const int p = Precedence(e);
      AppendOperand(*e.args[0], p == 4 ? 5 : p, out);
      AppendOperator(e, out);
      AppendOperand(*e.args[1], p + 1, out);
      return;
    }
    case ExprKind::kIn:
      AppendOperand(*e.args[0], 5, out);
      AppendOperator(e, out);
      if (e.interval != nullptr) {
        AppendInterval(*e.interval, out);
      } else {
        out->push_back('{');
        AppendList(e.args, 1, out);
        out->push_back('}');
      }
      return;
    case ExprKind::kIf:
      out->append("if ");
      AppendExpr(*e.args[0], out);
      out->append(" then ");
      AppendExpr(*e.args[1], out);
      out->append(" else ");
      AppendExpr(*e.args[2], out);
      return;
    case ExprKind::kSet:
      out->push_back('{');
      AppendList(e.args, 0, out);
      out->push_back('}');
      return;
  }
}

void AppendExpr(const Expr& e, std::string* out) {
  if (e.parenthesized) out->push_back('(');
  AppendBare(e, out);
  if (e.parenthesized) out->push_back(')');
}

std::string Print(const Expr& e) {
  std::string out;
  AppendExpr(e, &out);
  return out;
}

std::string Operand(const Expr& e, int min) {
  std::string out;
  AppendOperand(e, min, &out);
  return out;
}

std::string PrintInterval(const ast::Interval& i) {
  std::string out;
  AppendInterval(i, &out);
  return out;
}

std::string PrintList(const std::vector<ast::ExprPtr>& list) {
  std::string out;
  AppendList(list, 0, &out);
  return out;
}

std::string PrintTest(const ast::Test& t) {
  switch (t.kind) {
    case ast::TestKind::kAny:
      return "any";
    case ast::TestKind::kCompare:
      return absl::StrCat(ast::OpText(t.op), " ", Operand(*t.value, 5));
    case ast::TestKind::kInterval:
      return PrintInterval(*t.interval);
    case ast::TestKind::kSet:
      return absl::StrCat("{", PrintList(t.set), "}");
    case ast::TestKind::kEqual:
      return Operand(*t.value, 5);
  }
  return "";
}

std::string PrintType(const ast::TypeRef& t) {
  const char* optional = t.optional ? "?" : "";
  if (t.is_set) return absl::StrCat("set of ", t.name, optional);
  return t.places.empty() ? absl::StrCat(t.name, optional)
                          : absl::StrCat(t.name, "(", t.places, ")", optional);
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

// Writes lines, putting each comment back before the line it preceded or at
// the end of the line it ended.
class Writer {
 public:
  Writer(const ast::File& file, const SourceFile& source) : source_(source) {
    for (const ast::Comment& c : file.comments) comments_.push_back(&c);
    std::sort(comments_.begin(), comments_.end(), [](const ast::Comment* a, const ast::Comment* b) {
      return std::tie(a->span.line, a->span.column) < std::tie(b->span.line, b->span.column);
    });
  }

  // Writes `text` at `indent`; it came from source lines first..last.
  void Emit(int indent, const std::string& text, int first, int last) {
    FlushBefore(indent, std::max(first, last));
    std::string line(static_cast<size_t>(indent) * 2, ' ');
    line += text;
    if (next_ < comments_.size() && comments_[next_]->span.line == last) {
      absl::StrAppend(&line, "  ", comments_[next_]->text);
      ++next_;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out_ += line;
    out_ += '\n';
  }

  void Emit(int indent, const std::string& text, const SourceSpan& span) {
    Emit(indent, text, span.line, span.end_line);
  }

  void Blank() {
    if (!out_.empty() && out_.size() >= 2 && out_.substr(out_.size() - 2) != "\n\n") out_ += '\n';
  }

  // True when a source line strictly between `after` and `before` is blank.
  bool BlankBetween(int after, int before) const {
    for (int line = after + 1; line < before; ++line) {
      if (source_.Line(line).find_first_not_of(" \t\r") == absl::string_view::npos) return true;
    }
    return false;
  }

  // Writes the comments that come before source line `line`.
  void FlushBefore(int indent, int line) {
    while (next_ < comments_.size() && comments_[next_]->span.line < line) {
      const ast::Comment* c = comments_[next_++];
      if (last_comment_line_ > 0 && BlankBetween(last_comment_line_, c->span.line) &&
          !out_.empty() && out_.back() == '\n' && last_was_comment_) {
        Blank();
      }
      std::string text(static_cast<size_t>(indent) * 2, ' ');
      out_ += text + c->text + '\n';
      last_comment_line_ = c->span.line;
      last_was_comment_ = true;
    }
    last_was_comment_ = false;
  }

  std::string Finish() {
    FlushBefore(0, 1 << 30);
    return std::move(out_);
  }

 private:
  const SourceFile& source_;
  std::vector<const ast::Comment*> comments_;
  size_t next_ = 0;
  int last_comment_line_ = 0;
  bool last_was_comment_ = false;
  std::string out_;
};

bool IsBlock(const ast::Declaration& d) {
  return std::holds_alternative<ast::ScorecardDecl>(d) ||
         std::holds_alternative<ast::BandDecl>(d) || std::holds_alternative<ast::TableDecl>(d) ||
         std::holds_alternative<ast::RuleDecl>(d);
}

// Lines longer than this are split where the syntax allows (enums).
constexpr size_t kMaxLine = 100;

// Writes one declaration.
class DeclPrinter {
 public:
  explicit DeclPrinter(Writer& w) : w_(w) {}

  void operator()(const ast::EnumDecl& d) {
    std::vector<std::string> symbols;
    for (const ast::Ident& s : d.symbols) symbols.push_back(s.name);
    std::string line =
        absl::StrCat("enum ", d.name.name, " { ", absl::StrJoin(symbols, ", "), " }");
    if (line.size() <= kMaxLine) {
      w_.Emit(0, line, d.span);
      return;
    }
    // Too long for one line: one symbol per line.
    w_.Emit(0, absl::StrCat("enum ", d.name.name, " {"), d.span.line, d.name.span.end_line);
    for (const ast::Ident& s : d.symbols) w_.Emit(1, s.name + ",", s.span);
    w_.Emit(0, "}", d.span.end_line, d.span.end_line);
  }
  void operator()(const ast::ReasonDecl& d) {
    w_.Emit(0, absl::StrCat("reason ", d.code.name, " ", Quote(d.message)), d.span);
  }
  void operator()(const ast::InputDecl& d) {
    std::string text = absl::StrCat("input ", d.name.name, ": ", PrintType(d.type));
    if (d.constraint) {
      absl::StrAppend(&text, d.constraint->kind == ast::TestKind::kInterval ? " in " : " ",
                      PrintTest(*d.constraint));
    }
    if (d.default_value) absl::StrAppend(&text, " = ", Print(*d.default_value));
    w_.Emit(0, text, d.span);
  }
  void operator()(const ast::OutputDecl& d) {
    std::string text = absl::StrCat("output ", d.name.name, ": ", PrintType(d.type));
    if (d.value) absl::StrAppend(&text, " = ", Print(*d.value));
    if (d.priority) absl::StrAppend(&text, " priority ", d.priority->name);
    w_.Emit(0, text, d.span);
  }
  void operator()(const ast::OutcomeDecl& d) {
    w_.Emit(0, absl::StrCat("outcome ", d.scale.name, d.initial ? " = " + d.initial->name : ""),
            d.span);
  }
  void operator()(const ast::LetDecl& d) {
    w_.Emit(0,
            absl::StrCat("let ", d.name.name, d.type ? ": " + PrintType(*d.type) : "", " = ",
                         Print(*d.value)),
            d.span);
  }
  void operator()(const ast::ScorecardDecl& d) {
    w_.Emit(0, absl::StrCat("scorecard ", d.name.name), d.span.line, d.name.span.end_line);
    for (const ast::ScoreGroup& g : d.groups) {
      w_.Emit(1, absl::StrCat("group ", g.name.name, " weight ", Print(*g.weight)), g.span.line,
              g.weight->span.end_line);
      for (const ast::Factor& f : g.factors) {
        const SourceSpan& head_end = f.reason_threshold ? f.reason_threshold->span
                                     : f.reason         ? f.reason->span
                                                        : f.subject.span;
        std::string head = absl::StrCat("factor ", f.subject.name);
        if (f.reason) absl::StrAppend(&head, " reason ", f.reason->name);
        if (f.reason_threshold) {
          absl::StrAppend(&head, " when ", ast::OpText(f.reason_op), " ",
                          Operand(*f.reason_threshold, 5));
        }
        w_.Emit(2, head, f.span.line, head_end.end_line);
        Rows(3, f.rows);
      }
    }
  }
  void operator()(const ast::BandDecl& d) {
    w_.Emit(0,
            absl::StrCat("band ", d.name.name, d.type ? ": " + PrintType(*d.type) : "", " on ",
                         Print(*d.subject)),
            d.span.line, d.subject->span.end_line);
    Rows(1, d.rows);
  }
  void operator()(const ast::TableDecl& d) {
    std::string head = absl::StrCat("table ", d.name.name);
    int head_end = d.name.span.end_line;
    if (d.hit) {
      absl::StrAppend(&head, " hit ", d.hit->name);
      head_end = d.hit->span.end_line;
    }
    if (d.aggregate) {
      absl::StrAppend(&head, " ", d.aggregate->name);
      head_end = d.aggregate->span.end_line;
    }
    w_.Emit(0, head, d.span.line, head_end);

    // Cells as text, then column widths over the header and every row.
    std::vector<std::vector<std::string>> cells;
    std::vector<std::string> header;
    for (const ast::ExprPtr& e : d.inputs) header.push_back(Print(*e));
    for (const ast::TableColumn& c : d.outputs) {
      header.push_back(absl::StrCat(c.name.name, ": ", PrintType(c.type)));
    }
    cells.push_back(header);
    for (const ast::TableRow& r : d.rows) {
      std::vector<std::string> row;
      for (const ast::Test& t : r.tests) row.push_back(PrintTest(t));
      for (const ast::ExprPtr& e : r.values) row.push_back(Print(*e));
      cells.push_back(row);
    }
    const size_t inputs = d.inputs.size();
    std::vector<size_t> width;
    for (const auto& row : cells) {
      for (size_t i = 0; i < row.size(); ++i) {
        const bool last = i + 1 == row.size();
        const size_t w = row[i].size() + (i >= inputs && !last ? 1 : 0);  // trailing comma
        if (width.size() <= i) width.resize(i + 1, 0);
        width[i] = std::max(width[i], w);
      }
    }
    auto render = [&](const std::vector<std::string>& row, size_t test_count) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        if (i < test_count) {
          absl::StrAppend(&line, "| ", Pad(row[i], width[i]), " ");
        } else {
          if (i == test_count) line += "=> ";
          const bool last = i + 1 == row.size();
          std::string cell = last ? row[i] : row[i] + ",";
          absl::StrAppend(&line, last ? cell : Pad(cell, width[i]) + " ");
        }
      }
      return line;
    };
    w_.Emit(1, render(cells[0], inputs), d.inputs.front()->span.line,
            d.outputs.back().span.end_line);
    for (size_t r = 0; r < d.rows.size(); ++r) {
      w_.Emit(1, render(cells[r + 1], d.rows[r].tests.size()), d.rows[r].span);
    }
  }
  void operator()(const ast::RuleDecl& d) {
    w_.Emit(0, absl::StrCat("rule ", d.id.name, d.priority ? " priority " + *d.priority : ""),
            d.span.line, d.priority ? d.priority_span.end_line : d.id.span.end_line);
    w_.Emit(1, absl::StrCat("when ", Print(*d.condition)), d.condition->span);
    bool first = true;
    for (const ast::Effect& e : d.effects) {
      std::string text;
      switch (e.kind) {
        case ast::EffectKind::kOutcome:
          text = absl::StrCat(e.target.name, e.code ? " " + e.code->name : "");
          break;
        case ast::EffectKind::kReason:
          text = absl::StrCat("reason ", e.code->name);
          break;
        case ast::EffectKind::kSet:
          text = absl::StrCat("set ", e.target.name, " = ", Print(*e.value));
          break;
        case ast::EffectKind::kCap:
          text = absl::StrCat("cap ", e.target.name, " at ", Print(*e.value));
          break;
        case ast::EffectKind::kRaise:
          text = absl::StrCat("raise ", e.target.name, " to ", Print(*e.value));
          break;
        case ast::EffectKind::kAdd:
          text = absl::StrCat("add ", Print(*e.value), " to ", e.target.name);
          break;
      }
      w_.Emit(1, absl::StrCat(first ? "then " : "     ", text), e.span);
      first = false;
    }
  }

 private:
  void Rows(int indent, const std::vector<ast::Row>& rows) {
    size_t width = 0;
    std::vector<std::string> tests;
    for (const ast::Row& r : rows) {
      tests.push_back(PrintTest(r.test));
      width = std::max(width, tests.back().size());
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      w_.Emit(indent, absl::StrCat("| ", Pad(tests[i], width), " => ", Print(*rows[i].value)),
              rows[i].span);
    }
  }

  Writer& w_;
};

}  // namespace

std::string FormatExpr(const ast::Expr& expr) { return Print(expr); }

std::string FormatTest(const ast::Test& test) { return PrintTest(test); }

std::string FormatType(const ast::TypeRef& type) { return PrintType(type); }

std::string Format(const ast::File& file, const SourceFile& source) {
  Writer w(file, source);
  const ast::Header& h = file.header;
  w.Emit(0, absl::StrCat(h.is_library ? "library " : "policy ", h.name.name), h.span.line,
         h.name.span.end_line);
  for (const ast::HeaderField& f : h.fields) {
    std::string value = f.kind == ast::HeaderField::Kind::kString ? Quote(f.value) : f.value;
    w.Emit(1, absl::StrCat(f.key.name, " ", value), f.span);
  }
  int previous_end = h.span.end_line;
  if (!file.imports.empty()) {
    w.Blank();
    for (const ast::Import& i : file.imports) {
      w.Emit(0, absl::StrCat("import ", Quote(i.path)), i.span);
      previous_end = i.span.end_line;
    }
  }
  const ast::Declaration* previous = nullptr;
  DeclPrinter printer(w);
  for (const ast::Declaration& d : file.declarations) {
    const SourceSpan& span = ast::SpanOf(d);
    const bool blank = previous == nullptr || previous->index() != d.index() || IsBlock(d) ||
                       IsBlock(*previous) || w.BlankBetween(previous_end, span.line);
    if (blank) w.Blank();
    std::visit(printer, d);
    previous = &d;
    previous_end = span.end_line;
  }
  return w.Finish();
}

}  // namespace creditd::dsl
