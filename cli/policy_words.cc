#include "cli/policy_words.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/policy_diff.h"

namespace creditd::cli {
namespace {

namespace ast = dsl::ast;
using ast::Expr;
using ast::ExprKind;
using ast::Op;

// A comparison in words; `negate` reads its opposite (the orders of
// numbers, dates and enums are total, so `not a < b` is `a >= b`).
const char* ComparisonWords(Op op, bool negate) {
  if (negate) {
    switch (op) {
      case Op::kEq:
        op = Op::kNe;
        break;
      case Op::kNe:
        op = Op::kEq;
        break;
      case Op::kLt:
        op = Op::kGe;
        break;
      case Op::kLe:
        op = Op::kGt;
        break;
      case Op::kGt:
        op = Op::kLe;
        break;
      case Op::kGe:
        op = Op::kLt;
        break;
      default:
        break;
    }
  }
  switch (op) {
    case Op::kEq:
      return "is";
    case Op::kNe:
      return "is not";
    case Op::kLt:
      return "is below";
    case Op::kLe:
      return "is at most";
    case Op::kGt:
      return "is above";
    case Op::kGe:
      return "is at least";
    default:
      return nullptr;
  }
}

bool IsComparison(Op op) { return ComparisonWords(op, false) != nullptr; }

// `low` and `high` of an interval in words: "from 1 to 29", "above 60% and
// at most 70%".
std::string IntervalWords(const ast::Interval& interval) {
  if (interval.low != nullptr && interval.high != nullptr && interval.low_closed &&
      interval.high_closed) {
    return absl::StrCat("from ", ValueInWords(*interval.low), " to ", ValueInWords(*interval.high),
                        ", both included");
  }
  std::vector<std::string> bounds;
  if (interval.low != nullptr) {
    bounds.push_back(
        absl::StrCat(interval.low_closed ? "at least " : "above ", ValueInWords(*interval.low)));
  }
  if (interval.high != nullptr) {
    bounds.push_back(
        absl::StrCat(interval.high_closed ? "at most " : "below ", ValueInWords(*interval.high)));
  }
  return absl::StrJoin(bounds, " and ");
}

Words Leaf(std::string text) {
  Words w;
  w.text = std::move(text);
  return w;
}

Words Condition(const Expr& e, bool negate);

// The operands of a chain of one logical operator, `a and b and c`, however
// it is grouped.
void Flatten(const Expr& e, Op op, std::vector<const Expr*>* operands) {
  if (e.kind == ExprKind::kBinary && e.op == op) {
    for (const ast::ExprPtr& arg : e.args) Flatten(*arg, op, operands);
  } else {
    operands->push_back(&e);
  }
}

Words Condition(const Expr& e, bool negate) {
  switch (e.kind) {
    case ExprKind::kBinary: {
      if (e.op == Op::kAnd || e.op == Op::kOr) {
        // `not (a and b)` reads as "any of: not a; not b".
        Words w;
        w.all = (e.op == Op::kAnd) != negate;
        std::vector<const Expr*> operands;
        Flatten(e, e.op, &operands);
        for (const Expr* operand : operands) {
          Words part = Condition(*operand, negate);
          // A part that is itself a chain of the same kind joins this one.
          if (!part.parts.empty() && part.all == w.all) {
            for (Words& p : part.parts) w.parts.push_back(std::move(p));
          } else {
            w.parts.push_back(std::move(part));
          }
        }
        return w;
      }
      if (IsComparison(e.op) && e.args.size() == 2) {
        return Leaf(absl::StrCat(ValueInWords(*e.args[0]), " ", ComparisonWords(e.op, negate), " ",
                                 ValueInWords(*e.args[1])));
      }
      break;
    }
    case ExprKind::kUnary:
      if (e.op == Op::kNot && e.args.size() == 1) return Condition(*e.args[0], !negate);
      break;
    case ExprKind::kIn: {
      if (e.args.empty()) break;
      const bool in = (e.op == Op::kIn) != negate;
      const std::string subject = ValueInWords(*e.args[0]);
      if (e.interval != nullptr) {
        return Leaf(absl::StrCat(subject, in ? " is " : " is not ", IntervalWords(*e.interval)));
      }
      std::vector<std::string> elements;
      for (size_t i = 1; i < e.args.size(); ++i) elements.push_back(ValueInWords(*e.args[i]));
      if (elements.size() == 1) {
        return Leaf(absl::StrCat(subject, in ? " is " : " is not ", elements[0]));
      }
      if (elements.empty()) return Leaf(in ? "never" : "always");
      return Leaf(absl::StrCat(subject, in ? " is one of " : " is none of ",
                               absl::StrJoin(elements, ", ")));
    }
    case ExprKind::kName:
    case ExprKind::kMember:
      return Leaf(absl::StrCat(ValueInWords(e), negate ? " is false" : " is true"));
    case ExprKind::kCall:
      if (e.text == "given" && e.args.size() == 1) {
        return Leaf(absl::StrCat(ValueInWords(*e.args[0]), negate ? " is not given" : " is given"));
      }
      break;
    case ExprKind::kLiteral:
      if (e.literal == ast::LiteralKind::kBool) {
        return Leaf((e.text == "true") != negate ? "always" : "never");
      }
      break;
    default:
      break;
  }
  return Leaf(absl::StrCat(ValueInWords(e), negate ? " is false" : " is true"));
}

}  // namespace

std::string Words::ToString() const {
  if (parts.empty()) return text;
  std::vector<std::string> shown;
  for (const Words& part : parts) {
    shown.push_back(part.parts.empty() ? part.text : absl::StrCat("(", part.ToString(), ")"));
  }
  return absl::StrCat(all ? "all of: " : "any of: ", absl::StrJoin(shown, "; "));
}

Words ConditionInWords(const dsl::ast::Expr& condition) { return Condition(condition, false); }

std::string ValueInWords(const dsl::ast::Expr& expr) { return engine::CanonicalExpr(expr); }

std::string EffectInWords(const dsl::ast::Effect& effect) {
  const std::string& target = effect.target.name;
  const std::string value = effect.value != nullptr ? ValueInWords(*effect.value) : "";
  switch (effect.kind) {
    case ast::EffectKind::kOutcome:
      return absl::StrCat("the outcome becomes ", target, ", unless a more severe one applies");
    case ast::EffectKind::kReason:
      return "gives a reason; the outcome is unchanged";
    case ast::EffectKind::kSet:
      return absl::StrCat(target, " is set to ", value);
    case ast::EffectKind::kCap:
      return absl::StrCat(target, " is capped at ", value, " (at most ", value, ")");
    case ast::EffectKind::kRaise:
      return absl::StrCat(target, " is raised to ", value, " (at least ", value, ")");
    case ast::EffectKind::kAdd:
      return absl::StrCat(value, " is added to ", target);
  }
  return "";
}

}  // namespace creditd::cli
