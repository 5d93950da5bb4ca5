#pragma once

// What changed in meaning between two versions of a policy, for people who
// review a change before it serves: inputs and outputs, rules, band and
// table rows cell by cell, scorecard bins and weights, reasons, enums,
// constants. Declarations are matched by name (rules by id, reasons by
// code), rows by their tests, and expressions by a canonical printed form:
// layout, comments, digit grouping (`300_000`), parentheses that change
// nothing and the order of a set's elements are not changes.

#include <string>
#include <vector>

#include "dsl/ast.h"
#include "engine/checked_policy.h"

namespace creditd::engine {

struct Change {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind = Kind::kChanged;
  // The kind of thing: "decision", "header", "enum", "enum symbol",
  // "outcome", "reason", "input", "output", "let", "band", "band row",
  // "table", "table column", "table row", "table cell", "scorecard",
  // "scorecard group", "scorecard factor", "scorecard bin", "weight",
  // "rule", "rule effect".
  std::string what;
  // Where, in words: "input segment range",
  // "table base_terms row 3 (A | existing) base_limit".
  std::string path;
  // The old and the new text (empty for added and removed respectively).
  // When only constants moved (`constant`), the constants alone, several
  // separated by ", ": "300000", "5%".
  std::string before;
  std::string after;
  // Only literal values differ between the two expressions; then
  // `expression_before` and `expression_after` hold the whole expressions
  // when they are more than the constant itself.
  bool constant = false;
  std::string expression_before;
  std::string expression_after;
  // Callers that worked with the old version may be refused, or miss what
  // they read, with the new one; `impact` says how.
  bool breaks_callers = false;
  std::string impact;
  // Where it is declared in each version: the file as the loader named it
  // and a 1-based line; empty and 0 on the side where it does not exist.
  std::string file_before;
  int line_before = 0;
  std::string file_after;
  int line_after = 0;
};

// "added", "removed", "changed".
const char* ChangeKindName(Change::Kind kind);

// Every change in meaning from `old_policy` to `new_policy`, in the order of
// the language reference: header, enums, reasons, inputs, outcome, outputs,
// lets, bands, tables, scorecards, rules; within each, in the new policy's
// order, then what was removed. Empty when the two mean the same.
std::vector<Change> DiffPolicies(const CheckedPolicy& old_policy, const CheckedPolicy& new_policy);

// An expression in the canonical form the comparison uses: the formatter's
// (dsl::FormatExpr), with only the parentheses precedence needs, literals
// as plain values (`300000`, `5%`, `1.5`) and set elements sorted.
std::string CanonicalExpr(const dsl::ast::Expr& expr);

}  // namespace creditd::engine
