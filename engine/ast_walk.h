#pragma once

// Walks the expressions of a policy's declarations, so that the checker's
// passes (and anything else that needs every expression of a declaration)
// share one traversal instead of each writing its own.
//
// Two levels:
//  - the roots: the top-level expressions a declaration holds (a let's
//    value, a band's subject, its rows' tests and values, a table's
//    condition columns and cells, a scorecard's weights, thresholds and
//    bins, an output's value, a rule's condition and its effects' values,
//    an input's range and default), each given once, in the order written;
//  - the nodes: every node below some roots, with a stack of the walk's own,
//    so that no expression, however deep, makes the walk recurse.
//
// A root may be null (an output without a value, an effect without one):
// the root visitors skip those.

#include <variant>
#include <vector>

#include "dsl/ast.h"

namespace creditd::engine::walk {

namespace ast = dsl::ast;

// The expressions of a test: its value, its interval's bounds, its set's
// elements.
template <typename F>
void TestRoots(const ast::Test& test, F&& root) {
  if (test.value != nullptr) root(*test.value);
  if (test.interval != nullptr) {
    root(*test.interval->low);
    root(*test.interval->high);
  }
  for (const ast::ExprPtr& e : test.set) root(*e);
}

// `| test => value`
template <typename F>
void RowRoots(const ast::Row& row, F&& root) {
  TestRoots(row.test, root);
  if (row.value != nullptr) root(*row.value);
}

template <typename F>
void Roots(const ast::LetDecl& let, F&& root) {
  if (let.value != nullptr) root(*let.value);
}

template <typename F>
void Roots(const ast::BandDecl& band, F&& root) {
  if (band.subject != nullptr) root(*band.subject);
  for (const ast::Row& row : band.rows) RowRoots(row, root);
}

template <typename F>
void Roots(const ast::TableDecl& table, F&& root) {
  for (const ast::ExprPtr& e : table.inputs) root(*e);
  for (const ast::TableRow& row : table.rows) {
    for (const ast::Test& t : row.tests) TestRoots(t, root);
    for (const ast::ExprPtr& e : row.values) root(*e);
  }
}

// A scorecard's weights, and per factor its reason threshold and its bins.
// A factor's subject is a name but no expression: `FactorSubjects` gives
// those.
template <typename F>
void Roots(const ast::ScorecardDecl& card, F&& root) {
  for (const ast::ScoreGroup& group : card.groups) {
    if (group.weight != nullptr) root(*group.weight);
    for (const ast::Factor& factor : group.factors) {
      if (factor.reason_threshold != nullptr) root(*factor.reason_threshold);
      for (const ast::Row& row : factor.rows) RowRoots(row, root);
    }
  }
}

// The names a scorecard's factors score, in the order written.
template <typename F>
void FactorSubjects(const ast::ScorecardDecl& card, F&& subject) {
  for (const ast::ScoreGroup& group : card.groups) {
    for (const ast::Factor& factor : group.factors) subject(factor.subject);
  }
}

template <typename F>
void Roots(const ast::InputDecl& input, F&& root) {
  if (input.constraint) TestRoots(*input.constraint, root);
  if (input.default_value != nullptr) root(*input.default_value);
}

template <typename F>
void Roots(const ast::OutputDecl& output, F&& root) {
  if (output.value != nullptr) root(*output.value);
}

// A rule's condition, then its effects' values.
template <typename F>
void Roots(const ast::RuleDecl& rule, F&& root) {
  if (rule.condition != nullptr) root(*rule.condition);
  for (const ast::Effect& effect : rule.effects) {
    if (effect.value != nullptr) root(*effect.value);
  }
}

// Enums, reasons and the outcome hold no expressions.
template <typename F>
void Roots(const ast::EnumDecl&, F&&) {}
template <typename F>
void Roots(const ast::ReasonDecl&, F&&) {}
template <typename F>
void Roots(const ast::OutcomeDecl&, F&&) {}

// Any declaration's roots.
template <typename F>
void Roots(const ast::Declaration& declaration, F&& root) {
  std::visit([&](const auto& decl) { Roots(decl, root); }, declaration);
}

// Calls `node` on every node below `roots` (the roots included), each once:
// a node's arguments and its interval's bounds are its children. The order
// is that of a stack: the last root first, and below a node its interval's
// high bound, its low bound, then its arguments from the last; callers that
// depend on it (the checker's definition order does) get the same order
// every time.
template <typename F>
void Nodes(const std::vector<const ast::Expr*>& roots, F&& node) {
  std::vector<const ast::Expr*> stack;
  for (const ast::Expr* root : roots) {
    if (root != nullptr) stack.push_back(root);
  }
  while (!stack.empty()) {
    const ast::Expr* e = stack.back();
    stack.pop_back();
    node(*e);
    for (const ast::ExprPtr& arg : e->args) stack.push_back(arg.get());
    if (e->interval != nullptr) {
      stack.push_back(e->interval->low.get());
      stack.push_back(e->interval->high.get());
    }
  }
}

// Every node of a declaration's expressions, as `Nodes` orders them.
template <typename Decl, typename F>
void DeclNodes(const Decl& decl, F&& node) {
  std::vector<const ast::Expr*> roots;
  Roots(decl, [&](const ast::Expr& e) { roots.push_back(&e); });
  Nodes(roots, node);
}

}  // namespace creditd::engine::walk
