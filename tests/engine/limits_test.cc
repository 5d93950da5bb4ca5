// The front end on hostile input: every tree the parser accepts, and every
// chain of definitions, goes through every stage on a thread with a small
// stack; what it refuses is refused with a diagnostic, never a crash.
#include <pthread.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dsl/formatter.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/evaluator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using ::testing::HasSubstr;
using testing::MemoryReader;

// What a server thread may have; docs/language.md (Limits) says how the
// limits were measured against it.
constexpr size_t kSmallStack = 256 * 1024;

// Runs `body` on a thread with a `kSmallStack` stack: recursion deeper than
// the limits allow overflows it and fails the test (under ASan, with a
// report saying where).
void OnSmallStack(const std::function<void()>& body) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, kSmallStack), 0);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run, const_cast<std::function<void()>*>(&body)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

std::string Repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

int Depth(const dsl::ast::Expr* e) {
  if (e == nullptr) return 0;
  int below = 0;
  for (const dsl::ast::ExprPtr& arg : e->args) below = std::max(below, Depth(arg.get()));
  if (e->interval != nullptr) {
    below = std::max({below, Depth(e->interval->low.get()), Depth(e->interval->high.get())});
  }
  return below + 1;
}

const char kInputs[] =
    "enum Outcome { approve, refer, decline }\noutcome Outcome = approve\n"
    "reason R \"r\"\ninput a: int in [0, 10]\ninput b: bool\noutput used: bool = b and a > 0\n";

struct Result {
  int depth = 0;  // of the deepest output value
  std::string diagnostics;
  std::string decision;
};

// Parses, formats, dumps, checks, compiles and evaluates `text` (facts a = 1,
// b = true), then frees it all, on a small stack.
Result AllStages(const std::string& text) {
  Result run;
  OnSmallStack([&] {
    MemoryReader reader({{"t.credit", text}});
    dsl::DiagnosticSink sink;
    absl::StatusOr<std::unique_ptr<Program>> program = LoadProgram("t.credit", reader, sink);
    ASSERT_TRUE(program.ok()) << program.status();
    if (sink.has_errors()) {
      run.diagnostics = dsl::FormatDiagnostics(sink, (*program)->sources);
      return;
    }
    const dsl::ast::File& file = *(*program)->files[0];
    EXPECT_FALSE(dsl::Format(file, (*program)->sources.file(0)).empty());
    EXPECT_FALSE(dsl::ast::Dump(file).empty());
    absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked = Check(*std::move(program), sink);
    ASSERT_TRUE(checked.ok()) << checked.status();
    run.diagnostics = dsl::FormatDiagnostics(sink, (*checked)->program->sources);
    for (const OutputInfo& out : (*checked)->outputs) {
      run.depth = std::max(run.depth, Depth(out.decl->value.get()));
    }
    if (sink.has_errors()) return;
    absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = Compile(*std::move(checked));
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    Facts facts;
    facts.Add("a", FactValue::Int(1)).Add("b", FactValue::Bool(true));
    EvalOptions traced;
    traced.trace = true;
    absl::StatusOr<Decision> decision = Evaluate(**compiled, facts, traced);
    ASSERT_TRUE(decision.ok()) << decision.status();
    run.decision = testing::Out(*decision, "x");
  });
  return run;
}

std::string Policy(const std::string& declarations) {
  return absl::StrCat(testing::Header(), kInputs, declarations);
}

TEST(LimitsTest, DeepestExpressionsPassEveryStageOnASmallStack) {
  const dsl::ParseOptions parse;
  const int d = parse.max_depth;
  const int n = parse.max_nesting;
  struct Case {
    std::string name;
    std::string type;
    std::string value;
    std::string result;
  };
  // Brackets, `if`s, `not`s and `-`s nest at most max_nesting deep; chains
  // reach max_depth.
  std::string mixed = "a";
  for (int level = 0; level < n - 1; ++level)
    mixed = absl::StrCat("(", mixed, ")", Repeat(" + a", 5));
  mixed += Repeat(" + a", d - 1 - (n - 1) * 5);
  const std::vector<Case> cases = {
      {"sum", "int", "a" + Repeat(" + a", d - 1), absl::StrCat(d)},
      {"product", "int", "a" + Repeat(" * a", d - 1), "1"},
      {"difference", "int", "a" + Repeat(" - a", d - 1), absl::StrCat(2 - d)},
      {"and", "bool", "b" + Repeat(" and b", d - 1), "true"},
      {"or", "bool", "b" + Repeat(" or b", d - 1), "true"},
      {"comparisons", "bool", "a > 0" + Repeat(" and a > 0", d - 2), "true"},
      {"brackets and chains", "int", mixed, absl::StrCat(d)},
      {"calls", "int", Repeat("max(", n) + "a" + Repeat(", 0)", n), "1"},
      {"ifs", "int", Repeat("if b then a else ", n) + "0", "1"},
      {"negations", "int", Repeat("-", n) + "a", "1"},
      {"nots", "bool", Repeat("not ", n) + "b", "true"},
      {"brackets", "int", Repeat("a + (", n) + "a" + Repeat(")", n), absl::StrCat(n + 1)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string policy =
        Policy(absl::StrCat("output x: ", c.type, " = ", c.value, "\n", "rule r when ",
                            c.type == "bool" ? c.value : "b", " then refer R\n"));
    Result run = AllStages(policy);
    EXPECT_EQ(run.diagnostics, "");
    EXPECT_EQ(run.decision, c.result);
    if (c.name != "calls" && c.name != "ifs" && c.name != "negations" && c.name != "nots" &&
        c.name != "brackets") {
      EXPECT_EQ(run.depth, d);
    }
  }
  // Members go as deep, though only the checker's first look sees them.
  Result members = AllStages(Policy(absl::StrCat("output x: int = a", Repeat(".x", d - 1), "\n")));
  EXPECT_THAT(members.diagnostics, HasSubstr("E0208"));
  EXPECT_EQ(members.depth, d);
}

TEST(LimitsTest, LongChainsOfDefinitionsCheckAndCompileOnASmallStack) {
  // Each value uses the next one declared: checking or compiling one on
  // first use would recurse along the whole chain.
  const int n = 5000;
  std::string lets;
  for (int i = 0; i < n; ++i) absl::StrAppend(&lets, "let l", i, " = l", i + 1, " + 1\n");
  absl::StrAppend(&lets, "let l", n, " = a\noutput x: int = l0\n");
  EXPECT_EQ(AllStages(Policy(lets)).decision, absl::StrCat(n + 1));

  std::string outputs = "output x: int = o0\n";
  for (int i = 0; i < n; ++i) absl::StrAppend(&outputs, "output o", i, ": int = o", i + 1, "\n");
  absl::StrAppend(&outputs, "output o", n, ": int = a\n");
  EXPECT_EQ(AllStages(Policy(outputs)).decision, "1");

  // Bands over bands over tables over lets.
  std::string mixed = "output x: int = band0\n";
  for (int i = 0; i < 300; ++i) {
    absl::StrAppend(&mixed, "band band", i, ": int on table", i, ".v\n  | any => 1\n");
    absl::StrAppend(&mixed, "table table", i, "\n  | band", i + 1, " => v: int\n  | any => 1\n");
  }
  absl::StrAppend(&mixed, "band band300: int on a\n  | any => 1\n");
  EXPECT_EQ(AllStages(Policy(mixed)).decision, "1");
}

TEST(LimitsTest, InliningBooleanLetsStaysWithinTheStack) {
  // The analysis reads a boolean let used as a condition as its definition:
  // here 40 lets each standing for the next, the last as deep as an
  // expression may be. It inlines them only so deep, and the rule is
  // analysed on a small stack.
  const int d = dsl::ParseOptions().max_depth;
  std::string lets;
  for (int i = 0; i < 40; ++i) absl::StrAppend(&lets, "let m", i, ": bool = m", i + 1, "\n");
  absl::StrAppend(&lets, "let m40: bool = a > 0", Repeat(" and b", d - 2), "\n");
  Result run = AllStages(Policy(lets + "output x: bool = m0\nrule r when m0 then refer R\n"));
  EXPECT_EQ(run.diagnostics, "");
  EXPECT_EQ(run.decision, "true");
  // Each let's definition as deep as may be, the next let at its bottom.
  lets.clear();
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&lets, "let n", i, ": bool = n", i + 1, Repeat(" and b", d - 1), "\n");
  }
  absl::StrAppend(&lets, "let n40: bool = a > 0", Repeat(" and b", d - 2), "\n");
  run = AllStages(Policy(lets + "output x: bool = n0\nrule r when n0" + Repeat(" and b", 30) +
                         " then refer R\n"));
  EXPECT_EQ(run.diagnostics, "");
  EXPECT_EQ(run.decision, "true");
}

TEST(LimitsTest, LongCycleOfDefinitionsIsAnError) {
  std::string lets;
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&lets, "let l", i, " = l", (i + 1) % 2000, "\n");
  Result run = AllStages(Policy(lets + "output x: int = l0\n"));
  EXPECT_THAT(run.diagnostics, HasSubstr("error[E0211]"));

  // Each as deep as an expression may be, the next one named at the bottom:
  // a cycle found late would nest the deepest recursion once per value.
  const int d = dsl::ParseOptions().max_depth;
  lets.clear();
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&lets, "let l", i, " = l", (i + 1) % 40, Repeat(" + 1", d - 1), "\n");
  }
  run = AllStages(Policy(lets + "output x: int = l0\n"));
  EXPECT_THAT(run.diagnostics, HasSubstr("error[E0211]"));
}

TEST(LimitsTest, InputRangeMayNameAValueDeclaredLater) {
  // A range names a let that reads an input declared after the range's own.
  Result run =
      AllStages(Policy("input c: int in [0, k]\nlet k = d\ninput d: int\noutput x: int = c\n"));
  EXPECT_THAT(run.diagnostics, HasSubstr("error[E0305]"));
}

TEST(LimitsTest, BrokenInputNeverCrashesOnASmallStack) {
  // Token soup: brackets, prefixes, keywords and operators in random order,
  // through the parser's error recovery and whatever checks it passes.
  const std::vector<std::string> tokens = {
      "(",  ")",   "[", "]", "{",   "}",      "not", "-",   "if",    "then", "else", "let", "x",
      "=",  "a",   "+", "*", "and", "or",     ",",   "1",   "in",    "rule", "when", "set", "|",
      "=>", "min", ".", "<", "b",   "output", ":",   "int", "table", "band", "on",   "any"};
  std::mt19937 rng(2026);
  OnSmallStack([&] {
    for (int i = 0; i < 400; ++i) {
      std::string text = Policy("let x = ");
      const int length = 20 + static_cast<int>(rng() % 600);
      for (int k = 0; k < length; ++k) absl::StrAppend(&text, tokens[rng() % tokens.size()], " ");
      MemoryReader reader({{"t.credit", text}});
      dsl::DiagnosticSink sink;
      absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked =
          LoadAndCheck("t.credit", reader, sink);
      ASSERT_TRUE(checked.ok()) << checked.status();
      EXPECT_TRUE(sink.has_errors()) << text;
    }
  });
}

}  // namespace
}  // namespace creditd::engine
