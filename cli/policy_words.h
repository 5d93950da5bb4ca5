#pragma once

// Rules in plain words, for reviewers who do not read the policy language:
// `when segment = new and requested_limit > 500_000 and not has_collateral`
// reads "all of: segment is new; requested_limit is above 500000;
// has_collateral is false". Names stay as the policy spells them (they are
// what the inputs, outputs and reasons are called everywhere else); literals
// show as the values they write (digit groups joined, as creditctl diff
// shows them); whatever has no plainer reading (arithmetic, `if`) shows in
// the policy's own canonical form.

#include <string>
#include <vector>

#include "dsl/ast.h"
#include "engine/checked_policy.h"

namespace creditd::cli {

// A condition in words: one statement (`text`), or several that must all
// (`all`) or any one (`!all`) hold, each in words again.
struct Words {
  std::string text;  // when `parts` is empty
  bool all = true;
  std::vector<Words> parts;

  // On one line: "all of: a; b; any of: (c; d)".
  std::string ToString() const;
};

// A rule's condition in words.
Words ConditionInWords(const dsl::ast::Expr& condition);

// One effect of a rule in words, without its reason: "the outcome becomes
// at least decline", "credit_limit is capped at 0", "collateral is added to
// requirements"; "gives a reason (the outcome unchanged)" for `reason CODE`.
std::string EffectInWords(const dsl::ast::Effect& effect);

// An expression's value as the words above show it: a literal as its value,
// anything else in canonical form (engine::CanonicalExpr).
std::string ValueInWords(const dsl::ast::Expr& expr);

}  // namespace creditd::cli
