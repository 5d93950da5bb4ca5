#pragma once

// The policy AST: plain structs, every node with the SourceSpan it came from.
// Built by the parser (dsl/parser.h), printed by the formatter
// (dsl/formatter.h), checked and compiled by engine/. Nothing here knows
// about ANTLR.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dsl/source.h"

namespace creditd::dsl::ast {

// A name as written, with where it was written.
struct Ident {
  std::string name;
  SourceSpan span;
};

// `money`, `Grade`, `set of Requirement`, `money(3)`. Names are resolved by
// the checker.
struct TypeRef {
  std::string name;
  bool is_set = false;
  std::string places;     // `money(3)`: "3" as written; empty when not given
  bool optional = false;  // `money?`: an input that may be left out (edition 2)
  SourceSpan span;
};

enum class LiteralKind { kInt, kDecimal, kPercent, kDate, kBool };

enum class Op {
  kNone,
  // arithmetic
  kAdd,
  kSub,
  kMul,
  kDiv,
  kNeg,
  // comparison
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  // logic
  kAnd,
  kOr,
  kNot,
  // membership: args[0] in (interval | set)
  kIn,
  kNotIn,
};

// The printed form of an operator: "+", "<=", "and", "not in".
const char* OpText(Op op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// [low, high], (low, high], ... Bounds are expressions the checker requires
// to be constant.
struct Interval {
  bool low_closed = true;
  bool high_closed = true;
  ExprPtr low;
  ExprPtr high;
  SourceSpan span;
};

enum class ExprKind {
  kLiteral,  // text: the literal as written ("500_000", "55%", "2026-01-01", "true")
  kName,     // text: the name
  kMember,   // args[0].text ("credit_score.total": text = "total")
  kCall,     // text: function name; args: arguments
  kUnary,    // op: kNeg or kNot; args[0]
  kBinary,   // op: arithmetic, comparison or logic; args[0], args[1]
  kIn,       // op: kIn or kNotIn; args[0] the value; interval or args[1..] (a set)
  kIf,       // args: condition, then, else
  kSet,      // args: the elements
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Op op = Op::kNone;
  LiteralKind literal = LiteralKind::kInt;
  std::string text;
  std::vector<ExprPtr> args;
  std::unique_ptr<Interval> interval;  // for kIn with an interval
  bool parenthesized = false;          // written inside ( ), kept for the formatter
  SourceSpan span;
};

// A test on one value, as in band, factor and table rows and input
// constraints: `any`, `<= 60%`, `[1, 2]`, `{A, B}` or a value to equal.
enum class TestKind { kAny, kCompare, kInterval, kSet, kEqual };

struct Test {
  TestKind kind = TestKind::kAny;
  Op op = Op::kNone;                   // kCompare: kLt, kLe, kGt, kGe, kEq, kNe
  ExprPtr value;                       // kCompare, kEqual
  std::unique_ptr<Interval> interval;  // kInterval
  std::vector<ExprPtr> set;            // kSet
  SourceSpan span;
};

struct HeaderField {
  Ident key;
  std::string value;  // unquoted for strings (adjacent strings joined)
  enum class Kind { kVersion, kDate, kInt, kString } kind = Kind::kString;
  SourceSpan span;
};

struct Header {
  bool is_library = false;
  Ident name;
  std::vector<HeaderField> fields;
  SourceSpan span;
};

struct Import {
  std::string path;  // unquoted
  SourceSpan span;
};

struct EnumDecl {
  Ident name;
  std::vector<Ident> symbols;  // lowest first
  SourceSpan span;
};

struct ReasonDecl {
  Ident code;
  std::string message;
  SourceSpan span;
};

struct InputDecl {
  Ident name;
  TypeRef type;
  std::optional<Test> constraint;  // kCompare (< <= > >=) or kInterval
  ExprPtr default_value;
  SourceSpan span;
};

struct OutputDecl {
  Ident name;
  TypeRef type;
  ExprPtr value;  // the value before rules apply; may be null
  // `priority lowest` / `priority highest`: when several rules set the
  // output, the lowest (highest) value wins.
  std::optional<Ident> priority;
  SourceSpan span;
};

struct OutcomeDecl {
  Ident scale;
  std::optional<Ident> initial;
  SourceSpan span;
};

struct LetDecl {
  Ident name;
  std::optional<TypeRef> type;
  ExprPtr value;
  SourceSpan span;
};

// `| test => value`
struct Row {
  Test test;
  ExprPtr value;
  SourceSpan span;
};

struct Factor {
  Ident subject;
  std::optional<Ident> reason;
  // `reason CODE when < 22`: the reason applies below this many points
  // (kLt) or at most this many (kLe); without it, below the best bin.
  Op reason_op = Op::kNone;
  ExprPtr reason_threshold;
  std::vector<Row> rows;
  SourceSpan span;
};

struct ScoreGroup {
  Ident name;
  ExprPtr weight;
  std::vector<Factor> factors;
  SourceSpan span;
};

struct ScorecardDecl {
  Ident name;
  std::vector<ScoreGroup> groups;
  SourceSpan span;
};

struct BandDecl {
  Ident name;
  std::optional<TypeRef> type;
  ExprPtr subject;
  std::vector<Row> rows;
  SourceSpan span;
};

struct TableColumn {
  Ident name;
  TypeRef type;
  SourceSpan span;
};

struct TableRow {
  std::vector<Test> tests;
  std::vector<ExprPtr> values;
  SourceSpan span;
};

struct TableDecl {
  Ident name;
  std::optional<Ident> hit;        // first (default), unique, priority, collect
  std::optional<Ident> aggregate;  // with collect: min, max, sum
  std::vector<ExprPtr> inputs;     // condition columns
  std::vector<TableColumn> outputs;
  std::vector<TableRow> rows;
  SourceSpan span;
};

enum class EffectKind {
  kOutcome,  // target: an outcome symbol; code: optional reason
  kReason,   // code
  kSet,      // target: output; value
  kCap,      // target: output; value
  kRaise,    // target: output; value
  kAdd,      // target: output (a set); value: the element
};

struct Effect {
  EffectKind kind = EffectKind::kOutcome;
  Ident target;
  std::optional<Ident> code;
  ExprPtr value;
  SourceSpan span;
};

struct RuleDecl {
  Ident id;
  std::optional<std::string> priority;  // as written
  SourceSpan priority_span;
  ExprPtr condition;
  std::vector<Effect> effects;
  SourceSpan span;
};

using Declaration = std::variant<EnumDecl, ReasonDecl, InputDecl, OutputDecl, OutcomeDecl, LetDecl,
                                 ScorecardDecl, BandDecl, TableDecl, RuleDecl>;

// The span of any declaration.
const SourceSpan& SpanOf(const Declaration& declaration);

// A `#` comment, kept so the formatter can put it back.
struct Comment {
  std::string text;  // including the leading '#'
  SourceSpan span;
};

// One parsed file.
struct File {
  int file = -1;  // index in the SourceSet
  Header header;
  std::vector<Import> imports;
  std::vector<Declaration> declarations;
  std::vector<Comment> comments;
};

// A canonical, span-free dump of the tree, one node per line. Two files with
// the same meaning and the same written form have the same dump; the
// formatter's round-trip test compares dumps.
std::string Dump(const File& file);

}  // namespace creditd::dsl::ast
