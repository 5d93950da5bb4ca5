#pragma once

// Internal to the checker: the passes Check (engine/checker.cc) runs over a
// policy, and the state they share while checking it.
//
//   check_resolve.cc  declarations, written types, what names and reason
//                     codes refer to, the order of definitions and outputs
//   check_types.cc    expressions' types and constant values, the
//                     definitions (lets, bands, tables, scorecards), input
//                     ranges and defaults, output values
//   check_effects.cc  rules and their effects, outputs never set, inputs
//                     never used
//   analysis.cc       the static analysis (Analyze)
//
// Diagnostics come out in the order the passes run, each pass in the order
// of the declarations it goes through. A name's meaning may depend on the
// type expected where it is written (an enum symbol of the expected enum
// wins over a value of the same name), so the typing pass asks the resolver
// what each name means where it meets it, and the resolver's diagnostics
// fall in that order too.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "dsl/ast.h"
#include "dsl/diagnostic.h"
#include "engine/checked_policy.h"
#include "engine/checker.h"
#include "engine/program.h"

namespace creditd::engine::check {

namespace ast = dsl::ast;

// A name in backticks, for messages.
std::string Quoted(const std::string& name);

// A type's name in backticks, for messages.
std::string T(const Type& type);

// Where a declaration was first made, for "declared twice" help.
std::string Where(const dsl::SourceSet& sources, const dsl::SourceSpan& span);

// Can a value described by `info` be stored where `target` is expected?
bool Assignable(const ExprInfo& info, const Type& target);

// `v` converted to a numeric `type`; unchanged otherwise.
Value Coerce(const Value& v, const Type& type);

// Where a definition (let, band, table, scorecard) is in being checked.
enum class State { kUnchecked, kChecking, kDone };

template <typename Decl>
struct Pending {
  const Decl* decl;
  State state = State::kUnchecked;
};

struct CheckContext {
  CheckContext(std::unique_ptr<Program> program, dsl::DiagnosticSink& diagnostics,
               const CheckOptions& check_options);

  void Error(const char* code, const dsl::SourceSpan& span, std::string message,
             std::string help = "") {
    sink.Error(code, span, std::move(message), std::move(help));
  }
  void Warning(const char* code, const dsl::SourceSpan& span, std::string message,
               std::string help = "") {
    sink.Warning(code, span, std::move(message), std::move(help));
  }

  const dsl::SourceSet& sources() const { return policy->program->sources; }

  dsl::DiagnosticSink& sink;
  const CheckOptions& options;
  std::unique_ptr<CheckedPolicy> policy;

  // ----- the declarations, as collected (check_resolve.cc) -----------------

  // Inputs, lets, bands, tables and scorecards by name, with where each was
  // declared.
  absl::flat_hash_map<std::string, std::pair<Symbol, dsl::SourceSpan>> values;
  absl::flat_hash_map<std::string, const ast::EnumDecl*> enum_decls;
  std::vector<const ast::EnumDecl*> enum_order;
  absl::flat_hash_map<std::string, const EnumType*> enums;
  std::vector<const ast::ReasonDecl*> reason_decls;
  std::vector<const ast::InputDecl*> input_decls;
  std::vector<const ast::OutputDecl*> output_decls;
  const ast::OutcomeDecl* outcome_decl = nullptr;
  std::vector<const ast::RuleDecl*> rule_decls;
  std::vector<Pending<ast::LetDecl>> lets;
  std::vector<Pending<ast::BandDecl>> bands;
  std::vector<Pending<ast::TableDecl>> tables;
  std::vector<Pending<ast::ScorecardDecl>> scorecards;

  // ----- the definitions, as checked (check_types.cc) ----------------------

  std::vector<LetInfo> let_infos;
  std::vector<BandInfo> band_infos;
  std::vector<TableInfo> table_infos;
  std::vector<ScorecardInfo> scorecard_infos;
  int current_output = -1;   // while checking an output's value: its index
  int nesting = 0;           // definitions being checked inside one another
  int nested_levels = 0;     // expressions checked inside another definition's
  int64_t lookup_words = 0;  // of the tables' compiled lookups so far
  int too_large = 0;         // tables refused for that (E0319)

  // ----- uses, for the warnings of check_effects.cc ------------------------

  absl::flat_hash_set<int> used_inputs;
  absl::flat_hash_set<int> used_lets;

  // ----- optional inputs (edition 2) ----------------------------------------

  // The optional inputs known to be given where an expression is being
  // checked (by `given(x)` in an enclosing `and`, `or`, `if` or rule
  // condition), a stack: an input may appear more than once.
  std::vector<int> given;
};

// Pushes onto ctx.given the optional inputs that `condition` (already
// checked) shows to be given when it is `holds`: `given(x)`, and `and`
// (when true), `or` (when false) and `not` of such tests. Returns how many
// it pushed, for PopGiven.
size_t PushGiven(CheckContext& ctx, const ast::Expr& condition, bool holds);
inline void PopGiven(CheckContext& ctx, size_t count) {
  ctx.given.resize(ctx.given.size() - count);
}

// ----- check_resolve.cc ------------------------------------------------------

// The header's fields (E0101..E0104).
void CheckHeader(CheckContext& ctx);

// Collects the declarations of every file of the program (the policy first,
// then its imports), reporting names declared twice and declarations out of
// place.
void CollectDeclarations(CheckContext& ctx);

// The enums, reasons, inputs (their types), outputs and the outcome scale.
void ResolveEnumsAndReasons(CheckContext& ctx);
void ResolveInputs(CheckContext& ctx);
void ResolveOutputs(CheckContext& ctx);
void ResolveOutcome(CheckContext& ctx);

// A written type; E0203 and the error type when unknown, E0318 when it
// declares decimal places (only inputs may).
Type ResolveType(CheckContext& ctx, const ast::TypeRef& ref);

// The lets, bands, tables and scorecards in an order where each comes after
// the ones it names (CheckedPolicy::definition_order).
void OrderDefinitions(CheckContext& ctx);

// The outputs in an order where each follows the outputs its value reads
// (CheckedPolicy::output_order); E0211 for a cycle.
void OrderOutputs(CheckContext& ctx);

// What a name written as a value refers to, given the type expected there
// (`hint`, may be null): an enum symbol of the expected enum, an input,
// let, band, table or scorecard, an other output (inside an output's value),
// or an enum symbol of the one enum that has it. Reports the name that
// refers to nothing (E0201, E0204), to several enums' symbols (E0207) or to
// the output being computed (E0211), and then returns Kind::kNone.
struct NameRef {
  Symbol symbol;
  const EnumType* enum_type = nullptr;  // for an enum symbol
};
NameRef ResolveName(CheckContext& ctx, const ast::Expr& name, const Type* hint);

// The table or scorecard whose member `member` reads (E0208 when its base is
// no name, E0201 when the name is unknown).
std::optional<Symbol> ResolveMemberBase(CheckContext& ctx, const ast::Expr& member);

// Which part of the checked table or scorecard `symbol` the member names,
// into `info` (E0208 when it names none).
bool ResolveMember(CheckContext& ctx, const ast::Expr& member, const Symbol& symbol,
                   ExprInfo* info);

// A reason code's index in CheckedPolicy::reasons; -1 (E0205) when unknown.
int ResolveReason(CheckContext& ctx, const ast::Ident& code);

// The output an effect targets; -1 (E0206) when unknown.
int ResolveTarget(CheckContext& ctx, const ast::Ident& target);

// ----- check_types.cc --------------------------------------------------------

// The lets, bands, tables and scorecards, in definition order.
void CheckDefinitions(CheckContext& ctx);

// The inputs' ranges and defaults, which may name other values.
void CheckInputRanges(CheckContext& ctx);

// The outputs' values (which may read other outputs).
void CheckOutputValues(CheckContext& ctx);

// Types `expr`, expecting `hint` (may be null), and records what it learns in
// CheckedPolicy::exprs.
ExprInfo CheckExpr(CheckContext& ctx, const ast::Expr& expr, const Type* hint);

// From edition 2: E0321 when `value` (of `expr`) may have more decimal
// places than the money output `out` holds.
void CheckPlacesFit(CheckContext& ctx, const ExprInfo& value, const OutputInfo& out,
                    const ast::Expr& expr);

// ----- check_effects.cc ------------------------------------------------------

// The rules: ids, priorities, conditions and effects.
void CheckRules(CheckContext& ctx);

// From edition 2, the values reason messages quote (`{exposure}`), checked
// as expressions (E0322 for a message that cannot be read).
void CheckMessages(CheckContext& ctx);

// Outputs with no value that no rule sets (E0405).
void CheckOutputsAreSet(CheckContext& ctx);

// Inputs the policy never reads (W0501).
void CheckUnused(CheckContext& ctx);

}  // namespace creditd::engine::check
