#include "engine/ast_walk.h"

#include <memory>
#include <string>
#include <vector>

#include "dsl/diagnostic.h"
#include "engine/program.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using ::testing::ElementsAre;
using testing::MemoryReader;

namespace ast = dsl::ast;

std::unique_ptr<Program> Load(const std::string& body) {
  MemoryReader reader({{"test.credit", testing::Header() + body}});
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<Program>> program = LoadProgram("test.credit", reader, sink);
  EXPECT_TRUE(program.ok()) << program.status();
  EXPECT_FALSE(sink.has_errors()) << dsl::FormatDiagnostics(sink, (*program)->sources);
  return *std::move(program);
}

// The text of every literal and name below a declaration's roots, root by
// root in the order written, each root's nodes left to right.
std::vector<std::string> RootTexts(const ast::Declaration& decl) {
  std::vector<std::string> texts;
  walk::Roots(decl, [&](const ast::Expr& root) {
    std::string text;
    std::vector<const ast::Expr*> stack = {&root};
    while (!stack.empty()) {
      const ast::Expr* e = stack.back();
      stack.pop_back();
      if (e->kind == ast::ExprKind::kName || e->kind == ast::ExprKind::kLiteral) text += e->text;
      for (auto it = e->args.rbegin(); it != e->args.rend(); ++it) stack.push_back(it->get());
    }
    texts.push_back(text);
  });
  return texts;
}

TEST(AstWalkTest, RootsOfEveryDeclarationInTheOrderWritten) {
  std::unique_ptr<Program> program = Load(
      "enum G { A, B }\n"
      "reason R \"r\"\n"
      "input a: int in [lo, 10] = d\n"
      "input b: int\n"
      "let lo = 1\n"
      "let d = 2\n"
      "let l = a + b\n"
      "band k: int on a\n"
      "  | < x1 => y1\n"
      "  | [x2, x3] => y2\n"
      "  | {x4, x5} => y3\n"
      "table t\n"
      "  | a | b => v: int\n"
      "  | c1 | any => v1\n"
      "scorecard s\n"
      "  group g weight w1\n"
      "    factor a reason R when < th\n"
      "      | < x6 => p1\n"
      "output o: int = v0\n"
      "output e: int\n"
      "rule r\n"
      "  when cond\n"
      "  then set o = e1\n"
      "       reason R\n");
  std::vector<std::vector<std::string>> all;
  for (const ast::Declaration& decl : program->files[0]->declarations) {
    all.push_back(RootTexts(decl));
  }
  ASSERT_EQ(all.size(), 13u);
  EXPECT_THAT(all[0], ElementsAre());                 // enum
  EXPECT_THAT(all[1], ElementsAre());                 // reason
  EXPECT_THAT(all[2], ElementsAre("lo", "10", "d"));  // range, default
  EXPECT_THAT(all[3], ElementsAre());                 // no range, no default
  EXPECT_THAT(all[6], ElementsAre("ab"));             // let l
  EXPECT_THAT(all[7], ElementsAre("a", "x1", "y1", "x2", "x3", "y2", "x4", "x5", "y3"));
  EXPECT_THAT(all[8], ElementsAre("a", "b", "c1", "v1"));  // `any` has no expression
  EXPECT_THAT(all[9], ElementsAre("w1", "th", "x6", "p1"));
  EXPECT_THAT(all[10], ElementsAre("v0"));
  EXPECT_THAT(all[11], ElementsAre());  // an output without a value
  EXPECT_THAT(all[12], ElementsAre("cond", "e1"));
}

TEST(AstWalkTest, NodesVisitsEveryNodeOnceWithAStackOfItsOwn) {
  std::unique_ptr<Program> program = Load(
      "input a: int\n"
      "let l = if a in [1, 2] then min(a, 3) else -a\n");
  const auto& let = std::get<ast::LetDecl>(program->files[0]->declarations[1]);
  std::vector<std::string> seen;
  walk::DeclNodes(let, [&](const ast::Expr& e) {
    seen.push_back(e.kind == ast::ExprKind::kName || e.kind == ast::ExprKind::kLiteral ||
                           e.kind == ast::ExprKind::kCall
                       ? e.text
                       : std::string(ast::OpText(e.op)));
  });
  // A stack's order: below a node, the interval's high bound first, then
  // its arguments from the last.
  EXPECT_THAT(seen, ElementsAre("", "-", "a", "min", "3", "a", "in", "2", "1", "a"));
}

TEST(AstWalkTest, DeepExpressionsDoNotRecurse) {
  // Deeper than any stack would hold if each level were a call.
  ast::Expr root;
  ast::Expr* e = &root;
  const int depth = 100'000;
  for (int i = 0; i < depth; ++i) {
    e->kind = ast::ExprKind::kUnary;
    e->op = ast::Op::kNeg;
    e->args.push_back(std::make_unique<ast::Expr>());
    e = e->args.back().get();
  }
  e->kind = ast::ExprKind::kLiteral;
  e->text = "1";
  int nodes = 0;
  walk::Nodes({&root}, [&](const ast::Expr&) { ++nodes; });
  EXPECT_EQ(nodes, depth + 1);
  // Freed without recursion too, one level at a time.
  while (!root.args.empty()) {
    std::unique_ptr<ast::Expr> next = std::move(root.args[0]);
    root.args = std::move(next->args);
  }
}

}  // namespace
}  // namespace creditd::engine
